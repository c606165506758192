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
