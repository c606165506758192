"""`addax storage status` and `addax retention ...` as an operator types them, against a real database.

The handlers run in this process (argv parsed by the command's own parser pieces) with a database of the test's
own; what they print is compared with sums made by hand."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from addax.actors.scheduler import HOT_BUDGET, RETENTION
from addax.config import Config, General, Storage
from addax.storage_admin_cli import (
    GB,
    add_retention,
    add_storage_status,
    retention_command,
    size_text,
    status_lines,
    storage_status,
)
from addax.store import alerts
from addax.store.database import create_pool
from addax.store.object_fs import FilesystemObjectStore
from addax.store.object_tiers import TieredObjectStore
from addax.store.tiering import enforce_hot_budget, storage_use
from tests.store.media_rows import Media


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="addax")
    commands = parser.add_subparsers(dest="command", required=True)
    add_retention(commands)
    add_storage_status(commands.add_parser("storage").add_subparsers(dest="action", required=True))
    return parser.parse_args(argv)


@pytest.fixture
def database(fresh_dsn: str):  # type: ignore[no-untyped-def]
    @contextlib.asynccontextmanager
    async def open_database(settings: Config) -> AsyncIterator[asyncpg.Pool]:
        pool = await create_pool(fresh_dsn, size=2)
        try:
            yield pool
        finally:
            await pool.close()

    return open_database


async def test_status_shows_each_tier_the_budget_and_each_project(
    own_pool: asyncpg.Pool, database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Config(
        general=General(data_dir=str(tmp_path / "data")),
        storage=Storage(hot_budget_gb=4000 / GB, cold=str(tmp_path / "cold")),
    )
    tiers = TieredObjectStore(
        hot=FilesystemObjectStore(tmp_path / "data/objects"), cold=FilesystemObjectStore(tmp_path / "cold")
    )
    north = await Media.project(own_pool, tiers, "north")
    south = await Media.project(own_pool, tiers, "south")
    for size in (2000, 1000, 500):
        await north.photo(size)
    await south.photo(3000)
    await south.photo(100, stage="stored")
    await enforce_hot_budget(own_pool, tiers, 4000, tmp_path / "spool")  # north's 2000 and 1000 go cold

    assert await storage_status(parse("storage", "status"), settings, database=database) == 0
    out = capsys.readouterr().out.splitlines()

    assert out[0].split() == ["hot", "3", "images", "3.6", "KB", str(tmp_path / "data/objects")]
    assert out[1].split() == ["cold", "2", "images", "3.0", "KB", str(tmp_path / "cold")]
    assert out[2] == "hot budget 4.0 KB, 90 % used"
    assert out[3].startswith("disk of the data directory: ") or out[3] == ""
    table = [line.split() for line in out[out.index("") + 2 : -2]]
    assert table == [
        ["north", "hot", "1", "500", "B"],
        ["north", "cold", "2", "3.0", "KB"],
        ["south", "hot", "2", "3.1", "KB"],
    ]
    assert out[-2:] == ["", "storage jobs: none yet (the service's scheduler makes them when it starts)"]

    plain = status_lines(Config(), await storage_use(own_pool), disk=None)
    assert plain[1].endswith("not set (storage.cold)") and plain[2] == "hot budget: none (storage.hot_budget_gb = 0)"
    assert (size_text(0), size_text(1500), size_text(5 * GB)) == ("0 B", "1.5 KB", "5.0 GB")


async def test_retention_set_show_dry_run_and_run(
    own_pool: asyncpg.Pool, database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Config(general=General(data_dir=str(tmp_path / "data")))
    objects = FilesystemObjectStore(tmp_path / "data/objects")
    park = await Media.project(own_pool, objects, "park")
    await Media.project(own_pool, objects, "quiet")
    old = datetime.now(UTC) - timedelta(days=40)
    blank, blank_keys = await park.photo(received_at=old)
    badger, _ = await park.photo(labels=("animal",), received_at=old)

    assert await retention_command(parse("retention", "set", "--project", "park", "--blank-days", "30",
                                         "--person-days", "never"), settings, database=database) == 0  # fmt: skip
    assert capsys.readouterr().out.strip() == (
        "project 'park': blank photos deleted after 30 days, person photos kept forever,"
        " vehicle photos kept forever; animals kept forever"
    )
    await retention_command(parse("retention", "show"), settings, database=database)
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].startswith("park: blank photos deleted after 30 days") and shown[1].startswith(
        "quiet: blank photos kept"
    )

    assert await retention_command(parse("retention", "run", "--dry-run"), settings, database=database) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"park\t{blank}\t{blank_keys['original']}\t-\tblank, older than 30 days",
        "dry run: 1 photos (1.0 KB) would be deleted; nothing was",
    ]
    assert await own_pool.fetchval("SELECT count(*) FROM images") == 2

    assert await retention_command(parse("retention", "run", "--project", "park"), settings, database=database) == 0
    assert capsys.readouterr().out.strip() == "1 photos (1.0 KB) deleted, each recorded in the audit log"
    assert {row["id"] for row in await own_pool.fetch("SELECT id FROM images")} == {badger}
    assert not await objects.exists(blank_keys["original"])
    actor = await own_pool.fetchval("SELECT actor FROM audit_log WHERE action = 'retention.delete'")
    assert actor.startswith("cli:")


async def test_bad_retention_input_is_one_clear_line(
    database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Config(general=General(data_dir=str(tmp_path / "data")))
    assert await retention_command(parse("retention", "set", "--project", "nowhere", "--blank-days", "3"),
                                   settings, database=database) == 1  # fmt: skip
    assert capsys.readouterr().err == "addax: no project named 'nowhere'\n"
    assert await retention_command(parse("retention", "set", "--project", "x"), settings, database=database) == 1
    assert "nothing to change" in capsys.readouterr().err
    assert await retention_command(parse("retention", "run", "--project", "nowhere"), settings, database=database) == 1
    assert capsys.readouterr().err == "addax: no project named 'nowhere'\n"
    for bad, says in (("0", "at least 1 day"), ("soon", "a whole number of days or 'never', not 'soon'")):
        with pytest.raises(SystemExit):
            parse("retention", "set", "--project", "x", "--blank-days", bad)
        assert says in capsys.readouterr().err


async def test_status_shows_when_each_storage_job_ran_and_its_last_failure(
    own_pool: asyncpg.Pool, database, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    due = datetime(2026, 11, 29, 5, 15, tzinfo=UTC)
    for job in (RETENTION, HOT_BUDGET, "admin-checks"):
        await alerts.ensure_system_job(own_pool, job, due)
    hot_budget = await own_pool.fetchval("SELECT id FROM schedules WHERE job = $1", HOT_BUDGET)
    await own_pool.execute("UPDATE schedules SET last_run_at = $2 WHERE id = $1", hot_budget, due)
    error = "storage-hot-budget: s3://archive/cold: unreachable\n(a retry may help)"
    await alerts.record_failed_run(own_pool, hot_budget, error, retry_at=due + timedelta(minutes=5))

    settings = Config(general=General(data_dir=str(tmp_path / "data")))
    assert await storage_status(parse("storage", "status"), settings, database=database) == 0
    out = capsys.readouterr().out.splitlines()

    jobs = out[next(n for n, line in enumerate(out) if line.startswith("job ")) :]
    assert jobs[0].split() == ["job", "last", "started", "next", "run", "last", "error"]
    local = "%Y-%m-%d %H:%M %Z"
    assert [line.split(maxsplit=1)[0] for line in jobs[1:]] == ["storage-hot-budget", "storage-retention"]
    assert jobs[1].split() == [
        HOT_BUDGET,
        *due.astimezone().strftime(local).split(),
        *(due + timedelta(minutes=5)).astimezone().strftime(local).split(),
        *"storage-hot-budget: s3://archive/cold: unreachable".split(),
    ]
    assert jobs[2].split() == [RETENTION, "-", *due.astimezone().strftime(local).split(), "-"]
