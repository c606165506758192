"""`addax user|ftp-user|token ...` against a real database (database.url), as an operator types them."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from addax.domain.secrets import token_digest, verify_password
from addax.store import accounts, audit
from addax.store.database import create_pool
from tests.service import cli_on


@pytest.fixture
async def db(fresh_dsn: str) -> asyncpg.Pool:
    pool = await create_pool(fresh_dsn, size=2)
    yield pool
    await pool.close()


async def cli(dsn: str, *args: str, stdin: str = "") -> str:
    """Standard output of a command that must succeed."""
    result = await cli_on(dsn, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def fails(dsn: str, *args: str) -> str:
    """The one line a command that must fail says on standard error."""
    result = await cli_on(dsn, *args)
    assert result.returncode == 1, result.stdout
    (line,) = result.stderr.strip().splitlines()
    return line


async def test_user_disable_enable_and_password(fresh_dsn: str, db: asyncpg.Pool) -> None:
    await cli(fresh_dsn, "user", "add", "eva@example.org", "--role", "server-admin", "--password-stdin", stdin="one\n")
    eva = await accounts.user_id(db, "eva@example.org")
    await accounts.issue_api_token(db, eva, token_digest("session"), ttl=timedelta(hours=1))

    out = await cli(fresh_dsn, "user", "disable", "EVA@example.org")
    assert "user EVA@example.org disabled; 1 session(s) ended" in out
    assert await accounts.user_for_api_token(db, token_digest("session")) is None
    assert (await accounts.user_by_id(db, eva)).disabled
    assert "enabled" in await cli(fresh_dsn, "user", "enable", "eva@example.org")
    assert not (await accounts.user_by_id(db, eva)).disabled

    await accounts.issue_api_token(db, eva, token_digest("again"), ttl=timedelta(hours=1))
    out = await cli(fresh_dsn, "user", "password", "eva@example.org", "--password-stdin", stdin="two\n")
    assert "password of eva@example.org changed; 1 session(s) ended" in out
    assert await accounts.user_for_api_token(db, token_digest("again")) is None
    assert verify_password((await accounts.user_by_id(db, eva)).password_hash, "two")

    generated = await cli(fresh_dsn, "user", "password", "eva@example.org")  # stdin is no terminal: made up
    password = generated.split("password (shown once): ")[1].strip()
    assert verify_password((await accounts.user_by_id(db, eva)).password_hash, password)

    actions = [(row["action"], row["actor"].startswith("cli:")) for row in await audit.recent(db, limit=10)]
    assert actions[:5] == [
        ("user.password", True),
        ("user.password", True),
        ("user.enable", True),
        ("user.disable", True),
        ("user.add", True),
    ]


async def test_ftp_user_disable_enable_and_password(fresh_dsn: str, db: asyncpg.Pool) -> None:
    await cli(fresh_dsn, "project", "add", "wolves")
    await cli(fresh_dsn, "ftp-user", "add", "cam01", "--project", "wolves", "--password-stdin", stdin="pw\n")
    assert "upload account cam01 disabled" in await cli(fresh_dsn, "ftp-user", "disable", "cam01")
    assert await accounts.upload_account(db, "cam01") is None  # the FTPS server's view: no such login
    assert "upload account cam01 enabled" in await cli(fresh_dsn, "ftp-user", "enable", "cam01")
    out = await cli(fresh_dsn, "ftp-user", "password", "cam01")
    password = out.split("password (shown once): ")[1].strip()
    found = await accounts.upload_account(db, "cam01")
    assert found is not None and verify_password(found.password_hash, password)
    assert not verify_password(found.password_hash, "pw")
    targets = [(row["action"], row["target"]) for row in await audit.recent(db, limit=3)]
    assert targets == [("ftp-user.password", "cam01"), ("ftp-user.enable", "cam01"), ("ftp-user.disable", "cam01")]


async def test_token_disable_revokes_for_good(fresh_dsn: str, db: asyncpg.Pool) -> None:
    await cli(fresh_dsn, "project", "add", "deer")
    secret = (await cli(fresh_dsn, "token", "add", "gateway", "--project", "deer")).strip().splitlines()[-1]
    assert await accounts.find_device_token(db, token_digest(secret)) is not None
    out = await cli(fresh_dsn, "token", "disable", "gateway", "--project", "deer")
    assert "device token gateway of deer revoked" in out
    assert await accounts.find_device_token(db, token_digest(secret)) is None
    (row,) = await audit.recent(db, limit=1)
    assert (row["action"], row["target"], row["details"]) == ("token.revoke", "gateway", {"project": "deer"})


async def test_unknown_names_are_one_clear_line(fresh_dsn: str) -> None:
    await cli(fresh_dsn, "project", "add", "elk")
    assert "no user 'nobody@example.org' (see `addax user add`)" in await fails(
        fresh_dsn, "user", "disable", "nobody@example.org"
    )
    assert "no user" in await fails(fresh_dsn, "user", "enable", "nobody@example.org")
    no_stdin = await cli_on(fresh_dsn, "user", "password", "nobody@example.org", "--password-stdin", stdin="")
    assert no_stdin.returncode == 1 and "no password on standard input" in no_stdin.stderr
    assert "no upload account 'cam99'" in await fails(fresh_dsn, "ftp-user", "disable", "cam99")
    assert "no upload account 'cam99'" in await fails(fresh_dsn, "ftp-user", "password", "cam99")
    assert "project 'elk' has no device token named 'gw'" in await fails(
        fresh_dsn, "token", "disable", "gw", "--project", "elk"
    )
    assert "no project named 'moose'" in await fails(fresh_dsn, "token", "disable", "gw", "--project", "moose")


async def test_project_pipeline_settings(fresh_dsn: str, db: asyncpg.Pool) -> None:
    await cli(fresh_dsn, "project", "add", "deer")
    said = await cli(
        fresh_dsn, "project", "set", "deer", "--detection-threshold", "0.3", "--sequence-gap-s", "120",
        "--allowed-species", "Capreolus capreolus, wild boar", "--species-threshold", "Canis lupus=0.8",
        "--species-threshold", "Lynx lynx=0.7",
    )  # fmt: skip
    assert "sequence_gap_s = 120" in said
    await cli(fresh_dsn, "project", "set", "deer", "--species-threshold", "Lynx lynx=0")  # 0 removes one
    row = await db.fetchrow(
        """SELECT detection_threshold, sequence_gap_s, allowed_species, species_thresholds
           FROM projects WHERE name = 'deer'"""
    )
    assert row["detection_threshold"] == pytest.approx(0.3) and row["sequence_gap_s"] == 120
    assert row["allowed_species"] == ["Capreolus capreolus", "wild boar"]
    assert row["species_thresholds"] in ('{"Canis lupus": 0.8}', {"Canis lupus": 0.8})
    assert "TAXON=SCORE" in await fails(fresh_dsn, "project", "set", "deer", "--species-threshold", "wolf")
    assert "from 0 to 1" in await fails(fresh_dsn, "project", "set", "deer", "--detection-threshold", "1.5")
    await cli(fresh_dsn, "project", "set", "deer", "--allowed-species", "")
    assert await db.fetchval("SELECT allowed_species FROM projects WHERE name = 'deer'") == []


async def test_reprocess_stage_and_worker_roles(fresh_dsn: str, db: asyncpg.Pool) -> None:
    project_id = await accounts.add_project(db, "foxes", by="t")
    image_id = await db.fetchval(
        """INSERT INTO images (project_id, sha256, original_name, source, size_bytes, original_key, stage, blur_all)
           VALUES ($1, $2, 'x.jpg', 'ftp', 3, 'k', 'failed', true) RETURNING id""",
        project_id,
        b"\x02" * 32,
    )
    await db.execute(
        "INSERT INTO dead_letters (image_id, stage, error, attempts) VALUES ($1, 'finish', 'e', 5)", image_id
    )
    assert "1 images due now" in await cli(fresh_dsn, "reprocess", "--stage", "failed")
    row = await db.fetchrow("SELECT stage::text, blur_all FROM images WHERE id = $1", image_id)
    assert (row["stage"], row["blur_all"]) == ("classified", False), "back to the stage whose work failed"
    assert "0 images due now" in await cli(fresh_dsn, "reprocess", "--stage", "failed")
    assert "--roles takes detect, classify, finish" in await fails(fresh_dsn, "worker", "--roles", "detect,paint")
