"""Runs what is due on the timetable: rules' daily checks, reminders, digests and reports, the admin checks,
and the storage upkeep (the hot budget every 15 minutes, retention daily).

Each job is a row in ``schedules`` with its next run. A due job is taken ``FOR UPDATE SKIP LOCKED`` (so two
processes never run it twice), run, and its next run written in the same transaction as the notifications
it decided; a restart therefore neither skips nor repeats a run. The next run is computed from the time
the job ran, so runs missed while the service was down run once. The clock is given (a test sets it).

    loop: run every due job ─► sleep until the earliest next run (at most a minute)

The nightly backup and the storage jobs are due like any job, but run beside the loop: each may take hours (a
first hot-budget run over a big store moves terabytes) and the checks must not wait. One still running when it is
due again is skipped; a failure is kept on its row (the admin checks read the backup's) and retried soon.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg

from addax.actors.checks import Tell, fired, run_rule
from addax.actors.outbox import Addressing, address
from addax.domain.alerts import ActorSnapshot, admin_problems
from addax.domain.delivery import next_run
from addax.domain.schedules import next_daily
from addax.runtime import Actor, ActorHealth
from addax.runtime.clock import Clock
from addax.store import alerts, database, notifications, projects, summaries
from addax.store.alerts import DueJob
from addax.store.notifications import Message

log = logging.getLogger("addax.scheduler")

Enqueue = Callable[[Sequence[int]], Awaitable[None]]
ADMIN_CHECKS = "admin-checks"
ADMIN_EVERY = timedelta(minutes=5)
RETRY_FAILED_RUN = timedelta(minutes=5)
LONGEST_SLEEP = timedelta(minutes=1)  # rules made by another process are picked up within this
BACKUP = "backup"
RETRY_FAILED_BACKUP = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class NightlyBackup:
    """The backup job: ``run`` makes one and returns what to log; it is due daily at ``at`` in ``zone``."""

    run: Callable[[], Awaitable[str]]
    at: time
    zone: ZoneInfo


HOT_BUDGET = "storage-hot-budget"
HOT_BUDGET_EVERY = timedelta(minutes=15)
RETENTION = "storage-retention"
RETENTION_EVERY = timedelta(days=1)


#: the jobs that run beside the timetable, and how soon one is tried again after a failure
RETRY_BESIDE = {BACKUP: RETRY_FAILED_BACKUP, HOT_BUDGET: RETRY_FAILED_RUN, RETENTION: RETRY_FAILED_RUN}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one pass over a due job did: notifications to send, when it is due next, whether a run started
    (False: the last one still goes on, or nothing is configured) and whether its last error stands (a run beside
    the loop has only started: its error goes when it succeeds)."""

    waiting: list[int]
    following: datetime | None
    started: bool = True
    keep_error: bool = False


@dataclass(frozen=True, slots=True)
class Upkeep:
    """The storage jobs, as the wiring builds them (``actors.storage_upkeep``). One left None is not configured:
    its timetable row keeps ticking and does nothing, so setting it later needs only a restart."""

    hot_budget: Callable[[], Awaitable[object]] | None = None
    retention: Callable[[datetime], Awaitable[object]] | None = None


class Scheduler(Actor[None]):
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        clock: Clock,
        enqueue: Enqueue,
        addressing: Addressing,
        actor_health: Callable[[], list[ActorHealth]],
        disk_path: Path,
        backup: NightlyBackup | None = None,
        upkeep: Upkeep = Upkeep(),
    ) -> None:
        super().__init__(name="scheduler")
        self._pool, self._clock, self._enqueue, self._addressing = pool, clock, enqueue, addressing
        self._actor_health, self._disk_path, self._upkeep = actor_health, disk_path, upkeep
        self._restarts: deque[tuple[datetime, dict[str, int]]] = deque()
        self._backup = backup
        self._background: asyncio.TaskGroup | None = None
        self._beside: dict[str, asyncio.Task[None]] = {}  # by job: the run going on beside the timetable
        self._backup_started = self._clock.now()

    async def on_start(self) -> None:
        await alerts.ensure_system_job(self._pool, ADMIN_CHECKS, self._clock.now() + timedelta(minutes=1))
        if self._backup is not None:
            first = next_daily(self._clock.now(), self._backup.at, self._backup.zone)
            await alerts.ensure_system_job(self._pool, BACKUP, first)
        await alerts.ensure_system_job(self._pool, HOT_BUDGET, self._clock.now() + timedelta(minutes=2))
        await alerts.ensure_system_job(self._pool, RETENTION, self._clock.now() + timedelta(minutes=10))

    async def run(self) -> None:
        async with asyncio.TaskGroup() as background:  # the long jobs, beside the timetable; stopped with it
            self._background = background
            await self._timetable()

    async def _timetable(self) -> None:
        while True:
            try:
                while await self._run_one():
                    pass
                self.mark_success()
                due = await alerts.next_due(self._pool)
            except database.OUTAGE_ERRORS as error:
                self.record_error(error)
                log.warning("database unavailable; the timetable waits", extra={"error": str(error)})
                due = None
            latest = self._clock.now() + LONGEST_SLEEP
            await self._clock.sleep_until(min(due, latest) if due else latest)

    async def _run_one(self) -> bool:
        """Run the most overdue job; False when none is due."""
        now = self._clock.now()
        waiting: list[int] = []
        async with self._pool.acquire() as connection, connection.transaction():
            job = await alerts.take_due(connection, now)
            if job is None:
                return False
            try:
                async with connection.transaction():  # a savepoint: a failed run leaves nothing behind
                    outcome = await self._run(connection, job, now)
                    waiting = outcome.waiting
                    await alerts.finish_run(
                        connection,
                        job.id,
                        ran_at=now if outcome.started else None,
                        next_run_at=outcome.following,
                        clear_error=not outcome.keep_error,
                    )
            except database.OUTAGE_ERRORS:
                raise
            except Exception as error:  # one bad job must not stop the timetable: it is tried again later
                log.exception("a scheduled job failed", extra={"job": job.job, "rule": job.rule_id})
                self.record_error(error)
                await alerts.record_failed_run(connection, job.id, str(error), retry_at=now + RETRY_FAILED_RUN)
        if waiting:
            await self._enqueue(waiting)
        return True

    async def _run(self, connection: asyncpg.Connection, job: DueJob, now: datetime) -> Outcome:
        if job.job == ADMIN_CHECKS:
            return Outcome(await self._admin_checks(connection, now), now + ADMIN_EVERY)
        if job.job == BACKUP:
            if self._backup is None:  # backup.at was emptied: the row sleeps, a day at a time
                return Outcome([], now + timedelta(days=1), started=False)
            started = self._start_beside(job, self._backup.run)
            if started:
                self._backup_started = now
            return Outcome([], next_daily(now, self._backup.at, self._backup.zone), started, keep_error=True)
        # The storage jobs work on the pool, not this connection: they commit as they go.
        if job.job == HOT_BUDGET:
            if (hot_budget := self._upkeep.hot_budget) is None:
                return Outcome([], now + HOT_BUDGET_EVERY, started=False)
            return Outcome([], now + HOT_BUDGET_EVERY, self._start_beside(job, hot_budget), keep_error=True)
        if job.job == RETENTION:
            if (retention := self._upkeep.retention) is None:
                return Outcome([], now + RETENTION_EVERY, started=False)
            started = self._start_beside(job, lambda: retention(now))
            return Outcome([], now + RETENTION_EVERY, started, keep_error=True)
        rule = await alerts.rule(connection, job.rule_id) if job.rule_id is not None else None
        if rule is None or not rule.body.enabled:
            return Outcome([], None)
        tz = ZoneInfo(await projects.timezone(connection, rule.project_id))
        if not rule.owner_active:  # the owner left the project or was disabled: the rule sleeps
            return Outcome([], next_run(rule.body.settings, now, tz))
        waiting = []
        for tell in await run_rule(connection, rule, now, tz):
            waiting += await self._address(connection, tell)
        log.info("scheduled rule ran", extra={"rule": rule.id, "kind": rule.kind, "notifications": len(waiting)})
        return Outcome(waiting, next_run(rule.body.settings, now, tz))

    def _start_beside(self, job: DueJob, work: Callable[[], Awaitable[object]]) -> bool:
        """Start ``work`` beside the loop; False (skipped) while the job's last run still goes on."""
        running = self._beside.get(job.job)
        if running is not None and not running.done():
            log.warning("the job's last run is still going on; this one is skipped", extra={"job": job.job})
            return False
        assert self._background is not None
        self._beside[job.job] = self._background.create_task(self._run_beside(job, work))
        return True

    async def _run_beside(self, job: DueJob, work: Callable[[], Awaitable[object]]) -> None:
        try:
            report = await work()
        except Exception as error:  # the timetable goes on; the job keeps the error and is tried again soon
            log.exception("a job beside the timetable failed", extra={"job": job.job})
            self.record_error(error)
            retry_at = self._clock.now() + RETRY_BESIDE[job.job]
            try:
                await alerts.record_failed_run(self._pool, job.id, f"{job.job}: {error}", retry_at=retry_at)
            except database.OUTAGE_ERRORS:
                pass  # the next regular run stands
            return
        log.info("job done", extra={"job": job.job, "report": str(report)})
        try:
            await alerts.clear_error(self._pool, job.id)  # the admin checks re-arm the backup alert
        except database.OUTAGE_ERRORS:
            log.warning("the job worked but the database is down: its error stays until the next run")

    async def _address(self, connection: asyncpg.Connection, tell: Tell) -> list[int]:
        return await address(
            connection,
            self._addressing,
            tell.message,
            user_ids=tell.user_ids,
            channels=tell.channels,
            only_linked=tell.only_linked,
        )

    async def _admin_checks(self, connection: asyncpg.Connection, now: datetime) -> list[int]:
        usage = await asyncio.to_thread(shutil.disk_usage, self._disk_path)
        problems = admin_problems(
            disk_used_pct=100.0 * usage.used / usage.total if usage.total else 0.0,
            actors=self._actor_snapshots(now),
            open_dead_letters=await summaries.failed_images(connection),
            backup_error=await alerts.system_job_error(connection, BACKUP) if self._backup is not None else None,
            backup_running_for=now - self._backup_started if self._backup_running() else None,
        )
        new = await fired(connection, "admin:", problems)
        if not new:
            return []
        message = Message(
            key=f"admin:{','.join(new)}:{now:%Y-%m-%dT%H:%M}",
            kind="status",
            subject="Addax needs an administrator",
            payload={
                "title": "Addax needs an administrator",
                "project": None,
                "rule": None,
                "lines": list(new.values()),
                "cleared": False,
            },
        )
        admins = await notifications.server_admins(connection)
        return await self._address(connection, Tell(message, tuple(admins), ("email", "telegram"), only_linked=True))

    def _backup_running(self) -> bool:
        backing_up = self._beside.get(BACKUP)
        return backing_up is not None and not backing_up.done()

    def _actor_snapshots(self, now: datetime) -> dict[str, ActorSnapshot]:
        """Each actor now, with its restarts over the last hour (from the samples this actor keeps)."""
        health = self._actor_health()
        counts = {actor.name: actor.restarts for actor in health}
        self._restarts.append((now, counts))
        while self._restarts and now - self._restarts[0][0] > timedelta(hours=1):
            self._restarts.popleft()
        hour_ago = self._restarts[0][1]
        return {
            actor.name: ActorSnapshot(
                alive=actor.alive, restarts_last_hour=actor.restarts - hour_ago.get(actor.name, 0)
            )
            for actor in health
        }
