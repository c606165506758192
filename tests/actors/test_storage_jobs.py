"""The scheduler's storage jobs with a clock the test sets: the hot budget and retention run on their timetable."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from addax.actors.outbox import Addressing
from addax.actors.scheduler import ADMIN_CHECKS, HOT_BUDGET, RETENTION, Scheduler, Upkeep
from addax.actors.storage_upkeep import GB, storage_upkeep
from addax.config import Config, General, Storage
from addax.runtime import Supervisor
from addax.runtime.clock import ManualClock
from addax.store import alerts
from addax.store.database import open_database, ping
from addax.store.object_fs import FilesystemObjectStore
from addax.store.object_tiers import TieredObjectStore
from addax.store.retention import set_rules
from tests.store.media_rows import Media
from tests.waiting import eventually

START = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)


async def test_the_hot_budget_and_retention_run_when_due(fresh_dsn: str, tmp_path: Path) -> None:
    config = Config(
        general=General(data_dir=str(tmp_path / "data")),
        storage=Storage(hot_budget_gb=1500 / GB, cold=str(tmp_path / "cold")),
    )
    tiers = TieredObjectStore(
        hot=FilesystemObjectStore(tmp_path / "hot"), cold=FilesystemObjectStore(tmp_path / "cold")
    )
    clock = ManualClock(START)
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=4), probe=ping)
        media = await Media.project(pool, tiers, "park")
        await set_rules(pool, "park", by="test", blank_days=1)
        blank, blank_keys = await media.photo(1000, received_at=START - timedelta(days=3))
        badger, _ = await media.photo(1000, labels=("animal",), received_at=START - timedelta(days=3))
        fox, _ = await media.photo(1000, labels=("animal",), received_at=START)

        await supervisor.start(_scheduler(supervisor, pool, clock, storage_upkeep(config, pool=pool, objects=tiers)))

        async def ran(job: str) -> bool:
            return bool(await pool.fetchval("SELECT last_run_at IS NOT NULL FROM schedules WHERE job = $1", job))

        async def tiers_now() -> dict[int, str]:
            return dict(await pool.fetch("SELECT id, original_tier FROM images"))

        async def images_now() -> set[int]:
            return {row["id"] for row in await pool.fetch("SELECT id FROM images")}

        await clock.set(START + timedelta(minutes=2))
        await eventually(lambda: ran(HOT_BUDGET), timeout=20, what="the hot budget job")
        expected = {blank: "cold", badger: "cold", fox: "hot"}
        await eventually(lambda: _equal(tiers_now(), expected), timeout=20, what="the oldest originals moved")
        assert not await ran(RETENTION)

        await clock.set(START + timedelta(minutes=10))
        await eventually(lambda: ran(RETENTION), timeout=20, what="the retention job")
        await eventually(lambda: _equal(images_now(), {badger, fox}), timeout=20, what="the old blank deleted")

        async def blank_objects_gone() -> bool:  # deleted after the rows' commit, the cold original too
            return not any([await tiers.exists(key) for key in blank_keys.values()])

        await eventually(blank_objects_gone, timeout=20, what="the old blank's objects deleted")
        next_runs = dict(await pool.fetch("SELECT job, next_run_at FROM schedules WHERE rule_id IS NULL"))
        assert next_runs[HOT_BUDGET] == START + timedelta(minutes=17)
        assert next_runs[RETENTION] == START + timedelta(days=1, minutes=10)


def _scheduler(supervisor: Supervisor, pool: asyncpg.Pool, clock: ManualClock, upkeep: Upkeep) -> Scheduler:
    async def enqueue(ids: Sequence[int]) -> None:
        pass  # the storage jobs notify nobody

    return Scheduler(
        pool=pool,
        clock=clock,
        enqueue=enqueue,
        addressing=Addressing(),
        actor_health=supervisor.health,
        disk_path=Path("/"),
        upkeep=upkeep,
    )


async def _equal(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def test_a_long_storage_job_runs_beside_the_timetable(fresh_dsn: str, tmp_path: Path) -> None:
    """A first hot-budget run may take hours: the checks go on meanwhile, the job is not started twice, and a
    failure is kept on its row and tried again in minutes."""
    moving = asyncio.Event()
    runs = 0

    async def hot_budget() -> str:
        nonlocal runs
        runs += 1
        await moving.wait()
        if runs == 1:
            raise OSError("the cold bucket is unreachable")
        return "moved"

    clock = ManualClock(START)
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=4), probe=ping)

        await supervisor.start(_scheduler(supervisor, pool, clock, Upkeep(hot_budget=hot_budget)))

        async def next_run_of(name: str) -> datetime:
            return await pool.fetchval("SELECT next_run_at FROM schedules WHERE job = $1", name)  # type: ignore[no-any-return]

        await clock.set(START + timedelta(minutes=2))
        await eventually(lambda: runs == 1, timeout=20, what="the hot budget job to start")
        for minutes in (11, 17):  # the admin checks run every 5 minutes while it moves; it is due again at 17
            await clock.set(START + timedelta(minutes=minutes))
            await eventually(
                lambda: _later(next_run_of(ADMIN_CHECKS), clock.now()), timeout=20, what="the admin checks"
            )
        await eventually(
            lambda: _equal(next_run_of(HOT_BUDGET), START + timedelta(minutes=32)), timeout=20, what="the skip"
        )
        assert runs == 1, "a run still going on is not started again"
        last_started = "SELECT last_run_at FROM schedules WHERE job = $1"
        assert await pool.fetchval(last_started, HOT_BUDGET) == START + timedelta(minutes=2), "the skip started none"

        moving.set()
        error = await eventually(lambda: pool.fetchval(ERROR, HOT_BUDGET), timeout=20, what="the failure kept")
        assert error == "storage-hot-budget: the cold bucket is unreachable"
        failed = await pool.fetchrow(JOB, HOT_BUDGET)
        assert failed["next_run_at"] == START + timedelta(minutes=22)  # tried again 5 minutes on, not at 32

        await clock.set(failed["next_run_at"])
        await eventually(lambda: runs == 2, timeout=20, what="the retry")
        await eventually(lambda: _equal(pool.fetchval(ERROR, HOT_BUDGET), None), timeout=20, what="success")


async def test_a_storage_job_left_unconfigured_starts_nothing_and_drops_an_old_error(fresh_dsn: str) -> None:
    clock = ManualClock(START)
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=4), probe=ping)
        await alerts.ensure_system_job(pool, HOT_BUDGET, START + timedelta(minutes=2))
        await pool.execute(  # a failure from when a cold tier was configured
            "UPDATE schedules SET last_error = 'storage-hot-budget: unreachable' WHERE job = $1", HOT_BUDGET
        )
        await supervisor.start(_scheduler(supervisor, pool, clock, Upkeep()))
        await clock.set(START + timedelta(minutes=2))
        await eventually(lambda: _equal(pool.fetchval(ERROR, HOT_BUDGET), None), timeout=20, what="the old error")
        row = await pool.fetchrow("SELECT last_run_at, next_run_at FROM schedules WHERE job = $1", HOT_BUDGET)
        assert row["last_run_at"] is None and row["next_run_at"] == START + timedelta(minutes=17)


JOB = "SELECT next_run_at, last_error FROM schedules WHERE job = $1"
ERROR = "SELECT last_error FROM schedules WHERE job = $1"


async def _later(value: Awaitable[datetime | None], moment: datetime) -> bool:
    when = await value
    return when is not None and when > moment


@pytest.mark.parametrize("cold", ["", "elsewhere"])
def test_no_hot_budget_job_without_a_cold_tier_and_a_budget(cold: str, tmp_path: Path) -> None:
    config = Config(storage=Storage(hot_budget_gb=0 if cold else 10, cold=cold))
    upkeep = storage_upkeep(config, pool=None, objects=FilesystemObjectStore(tmp_path))  # type: ignore[arg-type]
    assert upkeep.hot_budget is None and upkeep.retention is not None
    assert Upkeep().hot_budget is None
