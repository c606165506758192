"""The nightly backup job: due at backup.at in the server's zone, run beside the timetable, retried after a failure,
and a failure told to the server admins once (until a backup succeeds again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from addax.actors.outbox import Addressing
from addax.actors.scheduler import BACKUP, NightlyBackup, Scheduler
from addax.domain.secrets import hash_password
from addax.runtime import Supervisor
from addax.runtime.clock import ManualClock
from addax.store import accounts
from addax.store.database import open_database, ping
from tests.waiting import eventually

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)  # 06:00 in Berlin


class Backups:
    """A stand-in for the backup function: counts its runs, fails when told to."""

    def __init__(self) -> None:
        self.runs = 0
        self.fail = False
        self.going_on = asyncio.Event()  # a run waits for this: a backup takes a while
        self.going_on.set()

    async def __call__(self) -> str:
        self.runs += 1
        await self.going_on.wait()
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


async def test_a_failed_backup_alerts_the_server_admins_once_until_a_backup_succeeds(
    running: tuple[asyncpg.Pool, ManualClock, Backups],
) -> None:
    pool, clock, backups = running
    admin = await accounts.add_user(
        pool, "root@example.org", hash_password("pw"), role=accounts.Role.SERVER_ADMIN, project=None, by="test"
    )

    async def alerts_sent() -> list[str]:
        rows = await pool.fetch("SELECT payload FROM notifications WHERE user_id = $1 ORDER BY id", admin)
        return [" ".join(row["payload"]["lines"]) for row in rows]

    async def at(moment: datetime) -> None:
        """Move the clock and wait until every job due by then has run (the admin checks among them)."""
        await clock.set(moment)
        due = "SELECT count(*) FROM schedules WHERE next_run_at <= $1 AND job <> $2"
        await eventually(lambda: _none(pool.fetchval(due, moment, BACKUP)), timeout=20, what="the due jobs")

    backups.fail = True
    await at(datetime(2026, 11, 30, 1, 30, tzinfo=UTC))
    await eventually(lambda: _next_is(pool, datetime(2026, 11, 30, 2, 30, tzinfo=UTC)), timeout=20, what="the failure")
    await at(datetime(2026, 11, 30, 1, 40, tzinfo=UTC))
    sent = await eventually(alerts_sent, timeout=20, what="the admins' alert")
    assert len(sent) == 1 and "nightly backup failed" in sent[0] and "the target is full" in sent[0]

    backups.going_on.clear()  # the retry runs for a while, and the admin checks run meanwhile
    await at(datetime(2026, 11, 30, 2, 30, tzinfo=UTC))
    await eventually(lambda: backups.runs == 2, timeout=20, what="the retry")
    await at(datetime(2026, 11, 30, 2, 40, tzinfo=UTC))
    firing = "SELECT count(*) FROM alert_states WHERE key = 'admin:backup'"
    assert await pool.fetchval(firing) == 1, "a backup that runs has not succeeded yet: its alert stays fired"
    backups.going_on.set()
    await eventually(lambda: _next_is(pool, datetime(2026, 11, 30, 3, 40, tzinfo=UTC)), timeout=20, what="retry 2")
    await at(datetime(2026, 11, 30, 2, 50, tzinfo=UTC))
    assert len(await alerts_sent()) == 1, "the same failure again alerts nobody again"

    backups.fail = False
    await at(datetime(2026, 11, 30, 3, 40, tzinfo=UTC))
    await eventually(lambda: backups.runs == 3, timeout=20, what="a backup that works")
    await eventually(lambda: _next_is(pool, datetime(2026, 12, 1, 1, 30, tzinfo=UTC)), timeout=20, what="success")
    await at(datetime(2026, 11, 30, 3, 50, tzinfo=UTC))
    assert await pool.fetchval(firing) == 0, "a backup that worked re-arms the alert"

    backups.fail = True
    await at(datetime(2026, 12, 1, 1, 30, tzinfo=UTC))
    await eventually(lambda: _next_is(pool, datetime(2026, 12, 1, 2, 30, tzinfo=UTC)), timeout=20, what="a failure")
    await at(datetime(2026, 12, 1, 1, 40, tzinfo=UTC))
    await eventually(lambda: _count_is(alerts_sent, 2), timeout=20, what="a new alert for a new failure")


async def _none(count: object) -> bool:
    return await count == 0  # type: ignore[misc]


async def _count_is(sent: object, expected: int) -> bool:
    return len(await sent()) == expected  # type: ignore[operator]


async def test_a_backup_that_hangs_past_the_next_night_alerts_the_admins(
    running: tuple[asyncpg.Pool, ManualClock, Backups],
) -> None:
    """A hung backup is no failure: it never ends, and every later night's backup is skipped behind it."""
    pool, clock, backups = running
    await accounts.add_user(
        pool, "root@example.org", hash_password("pw"), role=accounts.Role.SERVER_ADMIN, project=None, by="test"
    )
    firing = "SELECT detail FROM alert_states WHERE key = 'admin:backup-stuck'"
    backups.going_on.clear()
    await clock.set(datetime(2026, 11, 30, 1, 30, tzinfo=UTC))
    await eventually(lambda: backups.runs == 1, timeout=20, what="the backup to start")
    await clock.set(datetime(2026, 11, 30, 12, 0, tzinfo=UTC))
    await eventually(lambda: _next_admin_check_after(pool, clock.now()), timeout=20, what="the admin checks")
    assert await pool.fetchval(firing) is None, "a long backup is no problem yet"

    await clock.set(datetime(2026, 12, 1, 1, 30, tzinfo=UTC))  # tonight's is skipped: the last one still runs
    await clock.set(datetime(2026, 12, 1, 1, 40, tzinfo=UTC))
    detail = await eventually(lambda: pool.fetchval(firing), timeout=20, what="the stuck backup's alert")
    assert "running for 1 day" in detail and backups.runs == 1
    sent = await pool.fetchval("SELECT count(*) FROM notifications WHERE payload::text LIKE '%has been running%'")
    assert sent == 1

    backups.going_on.set()

    async def rearmed() -> bool:
        await clock.set(clock.now() + timedelta(minutes=5))  # the admin checks run again, the backup ended meanwhile
        return await pool.fetchval(firing) is None  # type: ignore[no-any-return]

    await eventually(rearmed, timeout=20, what="the alert to re-arm once the backup ended")


async def _next_admin_check_after(pool: asyncpg.Pool, moment: datetime) -> bool:
    due = await pool.fetchval("SELECT next_run_at FROM schedules WHERE job = 'admin-checks'")
    return due is not None and due > moment  # type: ignore[no-any-return]
