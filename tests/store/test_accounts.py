from datetime import timedelta

import asyncpg
import pytest

from addax.domain.secrets import hash_password, token_digest, verify_password
from addax.store import accounts, audit


async def test_admin_actions_are_audited(pool: asyncpg.Pool, unique: str) -> None:
    project = f"wolves-{unique}"
    await accounts.add_project(pool, project, by="cli:test")
    await accounts.add_user(
        pool,
        f"ranger-{unique}@example.org",
        hash_password("pw"),
        role=accounts.Role.VIEWER,
        project=project,
        by="cli:test",
    )
    await accounts.add_upload_account(pool, f"cam-{unique}", hash_password("pw"), project=project, by="cli:test")
    await accounts.add_device_token(pool, "gateway", token_digest("secret"), project=project, by="cli:test")

    rows = [
        row
        for row in await audit.recent(pool, limit=50)
        if unique in (row["target"] or "") or row["details"].get("project") == project
    ]
    assert {row["action"] for row in rows} == {"project.add", "user.add", "ftp-user.add", "token.add"}
    assert all(row["actor"] == "cli:test" for row in rows)


async def test_duplicates_and_unknown_projects_are_clear_errors(pool: asyncpg.Pool, unique: str) -> None:
    await accounts.add_project(pool, f"p-{unique}", by="t")
    with pytest.raises(accounts.AccountError, match="already exists"):
        await accounts.add_project(pool, f"p-{unique}", by="t")
    with pytest.raises(accounts.AccountError, match="no project named"):
        await accounts.add_upload_account(pool, f"cam-{unique}", "h", project=f"nope-{unique}", by="t")
    with pytest.raises(accounts.AccountError, match="belongs to a project"):
        await accounts.add_user(pool, f"v-{unique}@x", "h", role=accounts.Role.VIEWER, project=None, by="t")
    with pytest.raises(accounts.AccountError, match="letters, digits"):
        await accounts.add_upload_account(pool, "../etc", "h", project=f"p-{unique}", by="t")


async def test_passwords_are_argon2_and_tokens_stored_hashed(pool: asyncpg.Pool, unique: str) -> None:
    project = f"p-{unique}"
    await accounts.add_project(pool, project, by="t")
    await accounts.add_user(
        pool, f"a-{unique}@x", hash_password("s3cret"), role=accounts.Role.SERVER_ADMIN, project=None, by="t"
    )
    user = await accounts.find_user(pool, f"A-{unique}@X")  # e-mail matching ignores case
    assert user is not None and user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "s3cret") and not verify_password(user.password_hash, "S3cret")

    await accounts.add_device_token(pool, "gw", token_digest("tok"), project=project, by="t")
    stored = await pool.fetchval(
        "SELECT token_sha256 FROM device_tokens WHERE name = 'gw' AND project_id ="
        " (SELECT id FROM projects WHERE name = $1)",
        project,
    )
    assert stored == token_digest("tok") and b"tok" not in stored
    found = await accounts.find_device_token(pool, token_digest("tok"))
    assert found is not None and found.name == "gw"
    assert await accounts.find_device_token(pool, token_digest("wrong")) is None


async def _user_with_sessions(pool: asyncpg.Pool, email: str, sessions: int) -> tuple[int, list[bytes]]:
    user_id = await accounts.add_user(
        pool, email, hash_password("pw"), role=accounts.Role.SERVER_ADMIN, project=None, by="t"
    )
    digests = [token_digest(f"{email}-{n}") for n in range(sessions)]
    for digest in digests:
        await accounts.issue_api_token(pool, user_id, digest, ttl=timedelta(hours=1))
    return user_id, digests


def _audited(rows: list[dict], target: str) -> list[tuple[str, str]]:
    return [(row["action"], row["actor"]) for row in reversed(rows) if row["target"] == target]


async def test_disabling_a_user_ends_every_session_in_the_same_transaction(pool: asyncpg.Pool, unique: str) -> None:
    email = f"gone-{unique}@example.org"
    user_id, digests = await _user_with_sessions(pool, email, 2)
    assert await accounts.user_id(pool, email.upper()) == user_id

    assert await accounts.disable_user(pool, user_id, by="cli:test") == 2
    assert [await accounts.user_for_api_token(pool, digest) for digest in digests] == [None, None]
    assert await pool.fetchval("SELECT count(*) FROM api_tokens WHERE user_id = $1", user_id) == 0
    disabled = await accounts.user_by_id(pool, user_id)
    assert disabled is not None and disabled.disabled

    await accounts.enable_user(pool, user_id, by="cli:test")
    enabled = await accounts.user_by_id(pool, user_id)
    assert enabled is not None and not enabled.disabled
    assert await accounts.user_for_api_token(pool, digests[0]) is None  # ended sessions stay ended
    rows = await audit.recent(pool, limit=20)
    assert _audited(rows, email) == [("user.add", "t"), ("user.disable", "cli:test"), ("user.enable", "cli:test")]
    assert next(row for row in rows if row["action"] == "user.disable" and row["target"] == email)["details"] == {
        "sessions_ended": 2
    }


async def test_a_new_password_ends_every_session_and_may_open_the_next(pool: asyncpg.Pool, unique: str) -> None:
    email = f"pw-{unique}@example.org"
    user_id, digests = await _user_with_sessions(pool, email, 2)
    fresh = token_digest(f"fresh-{unique}")

    ended = await accounts.set_user_password(
        pool, user_id, hash_password("new secret"), by=email, new_session=(fresh, timedelta(hours=1))
    )
    assert ended == 2
    assert [await accounts.user_for_api_token(pool, digest) for digest in digests] == [None, None]
    still = await accounts.user_for_api_token(pool, fresh)
    assert still is not None and verify_password(still.password_hash, "new secret")
    assert _audited(await audit.recent(pool, limit=20), email)[-1] == ("user.password", email)


async def test_logout_ends_only_that_token(pool: asyncpg.Pool, unique: str) -> None:
    _, (first, second) = await _user_with_sessions(pool, f"out-{unique}@example.org", 2)
    assert await accounts.end_api_token(pool, first)
    assert not await accounts.end_api_token(pool, first)  # already gone
    assert await accounts.user_for_api_token(pool, first) is None
    assert await accounts.user_for_api_token(pool, second) is not None


async def test_disabled_upload_account_cannot_log_in_until_enabled(pool: asyncpg.Pool, unique: str) -> None:
    project, name = f"p-{unique}", f"cam-{unique}"
    project_id = await accounts.add_project(pool, project, by="t")
    account_id = await accounts.add_upload_account(pool, name, hash_password("old"), project=project, by="t")
    assert await accounts.upload_account_id(pool, name) == account_id

    await accounts.disable_upload_account(pool, account_id, by="cli:test")
    assert await accounts.upload_account(pool, name) is None  # what the FTPS server asks
    await accounts.enable_upload_account(pool, account_id, by="cli:test")
    await accounts.set_upload_account_password(pool, account_id, hash_password("new"), by="cli:test")
    found = await accounts.upload_account(pool, name)
    assert found is not None and found.project_id == project_id and verify_password(found.password_hash, "new")

    rows = await audit.recent(pool, limit=20)
    assert _audited(rows, name)[1:] == [
        ("ftp-user.disable", "cli:test"),
        ("ftp-user.enable", "cli:test"),
        ("ftp-user.password", "cli:test"),
    ]
    assert all(row["details"] == {"project": project} for row in rows if row["target"] == name)
    (listed,) = await accounts.upload_accounts(pool, projects=[project_id])
    assert listed == {
        "id": account_id,
        "project_id": project_id,
        "name": name,
        "disabled": False,
        "created_at": listed["created_at"],
    }


async def test_a_revoked_device_token_is_refused_for_good(pool: asyncpg.Pool, unique: str) -> None:
    project = f"p-{unique}"
    project_id = await accounts.add_project(pool, project, by="t")
    await accounts.add_device_token(pool, "gateway", token_digest(f"tok-{unique}"), project=project, by="t")
    token_id = await accounts.device_token_id(pool, "gateway", project=project)

    await accounts.revoke_device_token(pool, token_id, by="cli:test")
    assert await accounts.find_device_token(pool, token_digest(f"tok-{unique}")) is None
    (listed,) = await accounts.device_tokens(pool, projects=[project_id])
    assert listed["revoked"] and set(listed) == {"id", "project_id", "name", "revoked", "created_at", "last_used_at"}
    # a new token under the same name is not possible: the old one keeps its name, revoked
    with pytest.raises(accounts.AccountError, match="already has a token named"):
        await accounts.add_device_token(pool, "gateway", token_digest(f"new-{unique}"), project=project, by="t")
    (row,) = [row for row in await audit.recent(pool, limit=20) if row["action"] == "token.revoke"][:1]
    assert (row["target"], row["actor"], row["details"]) == ("gateway", "cli:test", {"project": project})


async def test_unknown_accounts_are_clear_errors(pool: asyncpg.Pool, unique: str) -> None:
    await accounts.add_project(pool, f"p-{unique}", by="t")
    with pytest.raises(accounts.AccountError, match=r"no user 'nobody-.*' \(see `addax user add`\)"):
        await accounts.user_id(pool, f"nobody-{unique}@x")
    with pytest.raises(accounts.AccountError, match="see `addax ftp-user add`"):
        await accounts.upload_account_id(pool, f"nocam-{unique}")
    with pytest.raises(accounts.AccountError, match="has no device token named 'nope'"):
        await accounts.device_token_id(pool, "nope", project=f"p-{unique}")
    with pytest.raises(accounts.AccountError, match="no project named"):
        await accounts.device_token_id(pool, "nope", project=f"nope-{unique}")
    for action in (accounts.disable_user, accounts.enable_user, accounts.disable_upload_account):
        with pytest.raises(accounts.AccountError, match="with id"):
            await action(pool, 2**40, by="t")
    with pytest.raises(accounts.AccountError, match="no device token with id"):
        await accounts.revoke_device_token(pool, 2**40, by="t")
    with pytest.raises(accounts.AccountError, match="no user with id"):
        await accounts.set_user_password(pool, 2**40, "h", by="t")


async def test_user_listing_has_roles_and_no_password_hashes(pool: asyncpg.Pool, unique: str) -> None:
    project = f"p-{unique}"
    project_id = await accounts.add_project(pool, project, by="t")
    user_id = await accounts.add_user(
        pool, f"v-{unique}@x", hash_password("pw"), role=accounts.Role.VIEWER, project=project, by="t"
    )
    (found,) = await accounts.users(pool, only=user_id)
    assert found["projects"] == [{"project_id": project_id, "role": "viewer"}]
    assert set(found) == {"id", "email", "server_admin", "disabled", "created_at", "projects"}
    assert user_id in {user["id"] for user in await accounts.users(pool)}
