"""The nightly backup job: due at backup.at in the server's zone, run beside the timetable, retried after a failure."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from addax.actors.outbox import Addressing
from addax.actors.scheduler import BACKUP, NightlyBackup, Scheduler
from addax.runtime import Supervisor
from addax.runtime.clock import ManualClock
from addax.store.database import open_database, ping
from tests.waiting import eventually

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)  # 06:00 in Berlin


class Backups:
    """A stand-in for the backup function: counts its runs, fails when told to."""

    def __init__(self) -> None:
        self.runs = 0
        self.fail = False

    async def __call__(self) -> str:
        self.runs += 1
        if self.fail:
            raise OSError("the target is full")
        return "backup made"


@pytest.fixture
async def running(fresh_dsn: str) -> AsyncIterator[tuple[asyncpg.Pool, ManualClock, Backups]]:
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=4), probe=ping)
        clock, backups = ManualClock(START), Backups()

        async def enqueue(ids: object) -> None:
            return None

        await supervisor.start(
            Scheduler(
                pool=pool,
                clock=clock,
                enqueue=enqueue,
                addressing=Addressing(),
                actor_health=supervisor.health,
                disk_path=Path("/"),
                backup=NightlyBackup(run=backups, at=time(2, 30), zone=BERLIN),
            )
        )
        yield pool, clock, backups


async def test_the_backup_runs_nightly_at_its_time_and_a_failure_is_retried_within_the_hour(
    running: tuple[asyncpg.Pool, ManualClock, Backups],
) -> None:
    pool, clock, backups = running
    job = "SELECT next_run_at, last_error FROM schedules WHERE job = $1"
    assert (await pool.fetchrow(job, BACKUP))["next_run_at"] == datetime(2026, 11, 30, 1, 30, tzinfo=UTC)

    await clock.set(datetime(2026, 11, 30, 1, 29, tzinfo=UTC))
    await clock.set(datetime(2026, 11, 30, 1, 30, tzinfo=UTC))
    await eventually(lambda: backups.runs == 1, timeout=20, what="the nightly backup")
    await eventually(
        lambda: _next_is(pool, datetime(2026, 12, 1, 1, 30, tzinfo=UTC)), timeout=20, what="tomorrow's run"
    )

    backups.fail = True
    await clock.set(datetime(2026, 12, 1, 1, 30, tzinfo=UTC))
    await eventually(lambda: backups.runs == 2, timeout=20, what="the second backup")
    retry = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
    await eventually(lambda: _next_is(pool, retry), timeout=20, what="a retry an hour later")
    assert "backup: the target is full" in (await pool.fetchrow(job, BACKUP))["last_error"]

    backups.fail = False
    await clock.set(retry + timedelta(seconds=1))
    await eventually(lambda: backups.runs == 3, timeout=20, what="the retry")
    await eventually(lambda: _next_is(pool, datetime(2026, 12, 2, 1, 30, tzinfo=UTC)), timeout=20, what="next night")


async def _next_is(pool: asyncpg.Pool, expected: datetime) -> bool:
    return await pool.fetchval("SELECT next_run_at FROM schedules WHERE job = $1", BACKUP) == expected  # type: ignore[no-any-return]
