import time

from addax.store.logins import LoginPolicy


async def test_token_from_password_opens_the_api(make_api, user) -> None:
    client = await make_api()
    email, password = user
    response = await client.post("/api/auth/token", json={"email": email, "password": password})
    assert response.status == 200
    token = (await response.json())["token"]
    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200 and (await me.json())["email"] == email


async def test_wrong_password_is_refused_slowly(make_api, user) -> None:
    client = await make_api(LoginPolicy(failure_delay_s=0.4))
    email, _ = user
    started = time.monotonic()
    response = await client.post("/api/auth/token", json={"email": email, "password": "guess"})
    assert response.status == 401
    assert time.monotonic() - started >= 0.4
    assert (await response.json()) == {"error": "wrong e-mail or password", "status": 401}


async def test_ten_failures_lock_the_account_even_for_the_right_password(make_api, user) -> None:
    client = await make_api()
    email, password = user
    for _ in range(10):
        assert (await client.post("/api/auth/token", json={"email": email, "password": "x"})).status == 401
    locked = await client.post("/api/auth/token", json={"email": email, "password": password})
    assert locked.status == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "too many failed logins" in (await locked.json())["error"]


async def test_failures_from_one_address_lock_that_address(make_api, user, unique) -> None:
    client = await make_api()
    for n in range(10):
        await client.post("/api/auth/token", json={"email": f"nobody{n}-{unique}@x", "password": "x"})
    email, password = user  # a real account, but asked from the address that was guessing
    assert (await client.post("/api/auth/token", json={"email": email, "password": password})).status == 429


async def test_bad_requests_get_json_errors(make_api) -> None:
    client = await make_api()
    not_json = await client.post("/api/auth/token", data=b"{nope")
    assert not_json.status == 400 and (await not_json.json())["error"] == "the body must be JSON"
    missing = await client.post("/api/auth/token", json={"email": "a@b"})
    assert missing.status == 400
    assert (await client.get("/api/auth/me")).status == 401
    bad_token = await client.get("/api/auth/me", headers={"Authorization": "Bearer nope"})
    assert (await bad_token.json()) == {"error": "the token is unknown or expired", "status": 401}
    unknown = await client.get("/api/no-such-thing")
    assert unknown.status == 404 and (await unknown.json())["status"] == 404
    wrong_method = await client.delete("/api/health")
    assert wrong_method.status == 405 and "error" in await wrong_method.json()
