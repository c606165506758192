"""Logout, password change, and disabling users, upload accounts and device tokens over the API."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
import pytest
from aiohttp import WSMsgType

from addax.domain.secrets import hash_password, new_token, token_digest
from addax.store import accounts, audit
from tests.api.test_intake_api import form
from tests.service import cli_on

SESSION_CHECK_S = 0.3


async def login(client, email: str, password: str) -> dict[str, str]:
    response = await client.post("/api/auth/token", json={"email": email, "password": password})
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['token']}"}


async def member(backend, email: str, *, role: accounts.Role, project: str | None, password: str = "pw") -> int:
    return await accounts.add_user(backend.pool, email, hash_password(password), role=role, project=project, by="t")


async def headers_of(backend, user_id: int) -> dict[str, str]:
    token = new_token()
    await accounts.issue_api_token(backend.pool, user_id, token_digest(token), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def me(client, headers: dict[str, str]) -> int:
    return (await client.get("/api/auth/me", headers=headers)).status


async def test_logout_ends_the_token_it_is_sent_with(make_api, user) -> None:
    client = await make_api()
    first, second = await login(client, *user), await login(client, *user)
    response = await client.post("/api/auth/logout", headers=first)
    assert response.status == 204
    assert await me(client, first) == 401 and await me(client, second) == 200
    again = await client.post("/api/auth/logout", headers=first)
    assert again.status == 401 and (await again.json())["error"] == "the token is unknown or expired"
    assert (await client.post("/api/auth/logout")).status == 401


async def test_password_change_ends_every_session_and_returns_a_fresh_token(make_api, backend, user) -> None:
    client = await make_api()
    email, password = user
    current, other = await login(client, email, password), await login(client, email, password)
    response = await client.post(
        "/api/me/password", json={"current_password": password, "new_password": "a much better one"}, headers=current
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["sessions_ended"] == 2 and body["expires_in"] == 3600
    assert await me(client, current) == 401 and await me(client, other) == 401
    assert await me(client, {"Authorization": f"Bearer {body['token']}"}) == 200

    old = await client.post("/api/auth/token", json={"email": email, "password": password})
    assert old.status == 401
    await login(client, email, "a much better one")
    (row,) = [row for row in await audit.recent(backend.pool, limit=10) if row["action"] == "user.password"]
    assert (row["actor"], row["target"]) == (email, email)


async def test_wrong_current_password_is_refused_and_counts_towards_the_lockout(make_api, user) -> None:
    client = await make_api()
    email, password = user
    headers = await login(client, email, password)
    wrong = {"current_password": "guess", "new_password": "whatever it is"}
    refused = await client.post("/api/me/password", json=wrong, headers=headers)
    assert refused.status == 403 and (await refused.json())["error"] == "the current password is wrong"
    for _ in range(9):
        await client.post("/api/me/password", json=wrong, headers=headers)
    locked = await client.post(
        "/api/me/password", json={"current_password": password, "new_password": "whatever it is"}, headers=headers
    )
    assert locked.status == 429 and int(locked.headers["Retry-After"]) > 0
    assert await me(client, headers) == 200  # the lockout refuses the change; it does not log anyone out


async def test_password_change_validates_its_body(make_api, user) -> None:
    client = await make_api()
    email, password = user
    headers = await login(client, email, password)
    for body, message in [
        ({"current_password": password}, "send"),
        ({"current_password": password, "new_password": 12345678}, "send"),
        ({"current_password": password, "new_password": "short"}, "8 to 1024 characters"),
        ({"current_password": password, "new_password": "x" * 1025}, "8 to 1024 characters"),
        ({"current_password": "x" * 1025, "new_password": "long enough"}, "at most 1024"),
        ({"current_password": password, "new_password": "long enough", "email": "a@b"}, "unknown fields"),
    ]:
        response = await client.post("/api/me/password", json=body, headers=headers)
        assert response.status == 400 and message in (await response.json())["error"], body
    assert (await client.post("/api/me/password", json={})).status == 401
    await login(client, email, password)  # unchanged


async def test_server_admin_disables_a_user_whose_tokens_fail_at_once(make_api, backend, bearer, unique) -> None:
    client = await make_api()
    email = f"ranger-{unique}@example.org"
    user_id = await member(backend, email, role=accounts.Role.SERVER_ADMIN, project=None, password="pw")
    headers = await login(client, email, "pw")

    listed = (await (await client.get("/api/users", headers=bearer)).json())["users"]
    (row,) = [found for found in listed if found["id"] == user_id]
    assert row["email"] == email and row["disabled"] is False
    assert all("password" not in key for found in listed for key in found)

    response = await client.patch(f"/api/users/{user_id}", json={"disabled": True}, headers=bearer)
    assert response.status == 200 and (await response.json())["disabled"] is True
    assert await me(client, headers) == 401
    refused = await client.post("/api/auth/token", json={"email": email, "password": "pw"})
    assert refused.status == 401

    enabled = await client.patch(f"/api/users/{user_id}", json={"disabled": False}, headers=bearer)
    assert enabled.status == 200 and (await enabled.json())["disabled"] is False
    await login(client, email, "pw")
    actions = [row["action"] for row in await audit.recent(backend.pool, limit=10) if row["target"] == email]
    assert actions[:2] == ["user.enable", "user.disable"]


async def test_user_admin_refusals(make_api, backend, bearer, user, unique) -> None:
    client = await make_api()
    await accounts.add_project(backend.pool, f"p-{unique}", by="t")
    viewer_id = await member(backend, f"v-{unique}@x", role=accounts.Role.VIEWER, project=f"p-{unique}")
    viewer = await headers_of(backend, viewer_id)
    admin = await accounts.find_user(backend.pool, user[0])
    assert admin is not None

    assert (await client.get("/api/users")).status == 401
    assert (await client.get("/api/users", headers=viewer)).status == 403
    forbidden = await client.patch(f"/api/users/{admin.id}", json={"disabled": True}, headers=viewer)
    assert forbidden.status == 403 and (await forbidden.json())["error"] == "only a server admin may do this"
    itself = await client.patch(f"/api/users/{admin.id}", json={"disabled": True}, headers=bearer)
    assert itself.status == 409 and "your own account" in (await itself.json())["error"]
    assert await me(client, bearer) == 200
    missing = await client.patch(f"/api/users/{2**40}", json={"disabled": True}, headers=bearer)
    assert missing.status == 404 and (await missing.json())["error"] == "no such user"
    assert (await client.patch("/api/users/abc", json={"disabled": True}, headers=bearer)).status == 404
    for body in ({}, {"disabled": "yes"}, {"disabled": 1}, {"disabled": True, "role": "viewer"}, [True]):
        bad = await client.patch(f"/api/users/{viewer_id}", json=body, headers=bearer)
        assert bad.status == 400, body
    assert await me(client, viewer) == 200


async def test_project_admin_disables_an_upload_account(make_api, backend, unique) -> None:
    client = await make_api()
    project_id = await accounts.add_project(backend.pool, f"p-{unique}", by="t")
    other_id = await accounts.add_project(backend.pool, f"o-{unique}", by="t")
    account_id = await accounts.add_upload_account(backend.pool, f"cam-{unique}", "h", project=f"p-{unique}", by="t")
    await accounts.add_upload_account(backend.pool, f"other-{unique}", "h", project=f"o-{unique}", by="t")
    admin_id = await member(backend, f"a-{unique}@x", role=accounts.Role.PROJECT_ADMIN, project=f"p-{unique}")
    admin = await headers_of(backend, admin_id)

    listed = await (await client.get(f"/api/upload-accounts?project={project_id}", headers=admin)).json()
    assert [(a["id"], a["name"], a["disabled"]) for a in listed["upload_accounts"]] == [
        (account_id, f"cam-{unique}", False)
    ]
    everything = await (await client.get("/api/upload-accounts", headers=admin)).json()
    assert [a["project_id"] for a in everything["upload_accounts"]] == [project_id]  # only what they administer
    assert "password_hash" not in listed["upload_accounts"][0]

    response = await client.patch(f"/api/upload-accounts/{account_id}", json={"disabled": True}, headers=admin)
    assert response.status == 200 and (await response.json())["disabled"] is True
    assert await accounts.upload_account(backend.pool, f"cam-{unique}") is None  # FTPS logins refused
    (row,) = [r for r in await audit.recent(backend.pool, limit=10) if r["target"] == f"cam-{unique}"][:1]
    assert (row["action"], row["actor"]) == ("ftp-user.disable", f"a-{unique}@x")

    assert (await client.get(f"/api/upload-accounts?project={other_id}", headers=admin)).status == 403
    other = (await accounts.upload_accounts(backend.pool, projects=[other_id]))[0]["id"]
    assert (await client.patch(f"/api/upload-accounts/{other}", json={"disabled": True}, headers=admin)).status == 403
    missing = await client.patch(f"/api/upload-accounts/{2**40}", json={"disabled": True}, headers=admin)
    assert missing.status == 404
    bad = await client.patch(f"/api/upload-accounts/{account_id}", json={"disabled": None}, headers=admin)
    assert bad.status == 400


async def test_viewers_cannot_see_or_change_accounts_and_tokens(make_api, backend, device, unique) -> None:
    client = await make_api()
    project_id, _ = device
    project = await backend.pool.fetchval("SELECT name FROM projects WHERE id = $1", project_id)
    viewer = await headers_of(
        backend, await member(backend, f"v-{unique}@x", role=accounts.Role.VIEWER, project=project)
    )
    (token,) = await accounts.device_tokens(backend.pool, projects=[project_id])
    for response in [
        await client.get(f"/api/upload-accounts?project={project_id}", headers=viewer),
        await client.get("/api/upload-accounts", headers=viewer),
        await client.get(f"/api/device-tokens?project={project_id}", headers=viewer),
        await client.post(f"/api/device-tokens/{token['id']}/revoke", headers=viewer),
    ]:
        assert response.status == 403 and (await response.json())["status"] == 403
    assert (await client.get(f"/api/device-tokens?project={project_id}")).status == 401
    assert (await accounts.device_tokens(backend.pool, only=token["id"]))[0]["revoked"] is False


async def test_a_revoked_device_token_is_refused_by_the_upload_api(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, secret = device
    listed = await (await client.get(f"/api/device-tokens?project={project_id}", headers=bearer)).json()
    (token,) = listed["device_tokens"]
    assert token["name"] == "gateway" and token["revoked"] is False
    text = await (await client.get(f"/api/device-tokens?project={project_id}", headers=bearer)).text()
    assert token_digest(secret).hex() not in text and "sha256" not in text and secret not in text

    response = await client.post(f"/api/device-tokens/{token['id']}/revoke", headers=bearer)
    assert response.status == 200 and (await response.json())["revoked"] is True
    upload = await client.post("/api/v1/upload", data=form("IMG_1.JPG", b"\xff\xd8"), headers={"X-API-Token": secret})
    assert upload.status == 401
    again = await client.post(f"/api/device-tokens/{token['id']}/revoke", headers=bearer)
    assert again.status == 200 and (await again.json())["revoked"] is True  # stays revoked
    assert (await client.post(f"/api/device-tokens/{2**40}/revoke", headers=bearer)).status == 404


async def closed_within(socket: aiohttp.ClientWebSocketResponse, seconds: float) -> None:
    """The server closes the socket with 4001 (events before it are skipped) within ``seconds``."""
    async with asyncio.timeout(seconds):
        while True:
            message = await socket.receive()
            if message.type != WSMsgType.TEXT:
                break
    assert (message.type, message.data, message.extra) == (WSMsgType.CLOSE, 4001, "session ended: log in again")


async def test_websocket_is_closed_when_the_user_is_disabled(make_api, backend, bearer, unique) -> None:
    client = await make_api(session_check_s=SESSION_CHECK_S)
    email = f"watcher-{unique}@example.org"
    user_id = await member(backend, email, role=accounts.Role.SERVER_ADMIN, project=None, password="pw")
    token = (await login(client, email, "pw"))["Authorization"].split()[1]
    socket = await client.ws_connect(f"/api/ws?token={token}")
    with pytest.raises(TimeoutError):  # two checks pass while the session is good: nothing arrives
        async with asyncio.timeout(SESSION_CHECK_S * 2):
            await socket.receive()
    assert not socket.closed

    assert (await client.patch(f"/api/users/{user_id}", json={"disabled": True}, headers=bearer)).status == 200
    await closed_within(socket, SESSION_CHECK_S + 1)  # at the next check, plus slack for a busy test machine


async def test_websocket_is_closed_after_logout(make_api, user) -> None:
    client = await make_api(session_check_s=SESSION_CHECK_S)
    headers = await login(client, *user)
    socket = await client.ws_connect("/api/ws", headers=headers)
    assert (await client.post("/api/auth/logout", headers=headers)).status == 204
    await closed_within(socket, SESSION_CHECK_S + 1)


async def test_websocket_is_closed_when_the_cli_disables_the_user(make_api, backend, fresh_dsn) -> None:
    client = await make_api(session_check_s=SESSION_CHECK_S)
    email = "field-worker@example.org"
    await member(backend, email, role=accounts.Role.SERVER_ADMIN, project=None, password="pw")
    socket = await client.ws_connect("/api/ws", headers=await login(client, email, "pw"))

    result = await cli_on(fresh_dsn, "user", "disable", email)
    assert result.returncode == 0, result.stderr
    assert f"user {email} disabled; 1 session(s) ended" in result.stdout
    await closed_within(socket, SESSION_CHECK_S + 1)
