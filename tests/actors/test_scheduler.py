"""The scheduler against a real PostgreSQL with a clock the test sets: daily checks that fire once and re-arm,
reminders, reports, missed runs that collapse into one, and restarts that neither skip nor repeat a run."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from addax.actors.outbox import Addressing
from addax.actors.scheduler import Scheduler
from addax.domain.alerts import (
    CameraHealthRule,
    DigestRule,
    ProjectRule,
    ReminderRule,
    RuleBody,
    Settings,
    SpeciesReportRule,
    TheftWatchRule,
)
from addax.domain.delivery import next_run
from addax.domain.secrets import hash_password
from addax.runtime import Supervisor
from addax.runtime.clock import ManualClock
from addax.store import accounts, alerts
from addax.store.database import open_database, ping
from tests.conftest import Servers
from tests.outage import database_down
from tests.waiting import eventually

BERLIN = ZoneInfo("Europe/Berlin")
# Sunday 29 November 2026, 06:00 in Berlin (05:00 UTC).
START = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)


@dataclass
class Timetable:
    pool: asyncpg.Pool
    clock: ManualClock
    supervisor: Supervisor
    project_id: int
    project: str
    user_id: int
    queued: list[int] = field(default_factory=list)
    scheduler: Scheduler | None = None
    own: Supervisor | None = None

    async def start(self) -> Scheduler:
        async def enqueue(ids: list[int]) -> None:
            self.queued.extend(ids)

        self.own = Supervisor(stop_timeout=5)  # of its own, so that a test can stop and restart it
        await self.own.__aenter__()
        self.scheduler = Scheduler(
            pool=self.pool,
            clock=self.clock,
            enqueue=enqueue,
            addressing=Addressing(),
            actor_health=self.supervisor.health,
            disk_path=Path("/"),
        )
        await self.own.start(self.scheduler)
        return self.scheduler

    async def stop(self) -> None:
        if self.own is not None:
            await self.own.__aexit__(None, None, None)
        self.own, self.scheduler = None, None

    async def rule(self, settings: Settings, *, kind: str, channels: tuple[str, ...] = ("email",)) -> int:
        body = RuleBody(name=f"{kind} rule", kind=kind, channels=channels, enabled=True, settings=settings)
        return await alerts.add_rule(
            self.pool,
            user_id=self.user_id,
            project_id=self.project_id,
            body=body,
            next_run_at=next_run(settings, self.clock.now(), BERLIN, first=True),
        )

    async def until(self, local: datetime) -> None:
        """Move the clock to a Berlin wall time and wait until the scheduler has run everything due."""
        await self.clock.set(local.replace(tzinfo=BERLIN).astimezone(UTC))

        async def settled() -> bool:
            due = await self.pool.fetchval("SELECT count(*) FROM schedules WHERE next_run_at <= $1", self.clock.now())
            return due == 0

        await eventually(settled, timeout=20, what="every due job to run")

    async def notifications(self, kind: str | None = None) -> list[asyncpg.Record]:
        return await self.pool.fetch(
            "SELECT * FROM notifications WHERE project_id IS NOT DISTINCT FROM $1 AND ($2::text IS NULL OR kind = $2)"
            " ORDER BY id",
            self.project_id if kind != "admin" else None,
            None if kind == "admin" else kind,
        )

    async def camera(self, name: str, *, battery: int | None = None, sd_used_pct: float | None = None) -> int:
        camera_id = await self.pool.fetchval(
            """INSERT INTO cameras (project_id, identity, identity_kind, name, status, last_seen_at)
               VALUES ($1, $2, 'serial', $2, 'active', $3) RETURNING id""",
            self.project_id,
            name,
            self.clock.now(),
        )
        if battery is not None or sd_used_pct is not None:
            await self.report(camera_id, battery=battery, sd_used_pct=sd_used_pct, day=self.clock.now().date())
        return int(camera_id)

    async def report(self, camera_id: int, *, battery: int | None, sd_used_pct: float | None, day: date) -> None:
        total = 32_000
        free = None if sd_used_pct is None else int(total * (1 - sd_used_pct / 100))
        await self.pool.execute(
            """INSERT INTO camera_health_reports (camera_id, report_date, battery_pct, sd_free_mb, sd_total_mb, raw)
               VALUES ($1, $2, $3, $4, $5, 'test') ON CONFLICT (camera_id, report_date)
               DO UPDATE SET battery_pct = $3, sd_free_mb = $4""",
            camera_id,
            day,
            battery,
            free,
            total,
        )

    async def photos(self, camera_id: int, times: list[datetime]) -> list[int]:
        ids = []
        for moment in times:
            digest = hashlib.sha256(f"{camera_id}-{moment.isoformat()}".encode()).digest()
            ids.append(
                await self.pool.fetchval(
                    """INSERT INTO images (project_id, camera_id, stage, sha256, original_name, source, size_bytes,
                           taken_at, received_at)
                       VALUES ($1, $2, 'done', $3, 'x.jpg', 'ftp', 1, $4, $4) RETURNING id""",
                    self.project_id,
                    camera_id,
                    digest,
                    moment,
                )
            )
        await self.pool.execute(
            "UPDATE cameras SET last_seen_at = (SELECT max(taken_at) FROM images WHERE camera_id = $1) WHERE id = $1",
            camera_id,
        )
        return ids


@pytest.fixture
async def timetable(fresh_dsn: str, unique: str) -> AsyncIterator[Timetable]:
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=4), probe=ping)
        project = f"sched-{unique}"
        project_id = await accounts.add_project(pool, project, by="test")
        await pool.execute("UPDATE projects SET timezone = 'Europe/Berlin' WHERE id = $1", project_id)
        user_id = await accounts.add_user(
            pool,
            f"ranger-{unique}@example.org",
            hash_password("pw"),
            role=accounts.Role.VIEWER,
            project=project,
            by="test",
        )
        timetable = Timetable(pool, ManualClock(START), supervisor, project_id, project, user_id)
        yield timetable
        await timetable.stop()


async def test_a_low_battery_alerts_once_at_the_daily_time_and_again_only_after_it_recovered(
    timetable: Timetable,
) -> None:
    camera = await timetable.camera("cam-north", battery=12)
    await timetable.camera("cam-south", battery=80)
    await timetable.rule(
        CameraHealthRule(battery_below_pct=20, sd_above_pct=None, silent=False, at=time(8, 0)), kind="camera_health"
    )
    await timetable.start()
    await timetable.until(datetime(2026, 11, 29, 7, 59))
    assert await timetable.notifications() == [], "nothing before the daily time"
    await timetable.until(datetime(2026, 11, 29, 8, 0))
    first = await timetable.notifications()
    assert len(first) == 1 and first[0]["camera_id"] == camera and first[0]["kind"] == "status"
    payload = first[0]["payload"]
    assert "12 %" in " ".join(payload["lines"]) and "cam-north" in first[0]["subject"]
    assert timetable.queued == [first[0]["id"]]

    await timetable.until(datetime(2026, 11, 30, 8, 0))
    assert len(await timetable.notifications()) == 1, "still low the next day: no second alert"

    await timetable.report(camera, battery=100, sd_used_pct=None, day=date(2026, 12, 1))
    await timetable.until(datetime(2026, 12, 1, 8, 0))
    assert len(await timetable.notifications()) == 1, "recovered: re-armed, nothing sent"

    await timetable.report(camera, battery=15, sd_used_pct=None, day=date(2026, 12, 2))
    await timetable.until(datetime(2026, 12, 2, 8, 0))
    assert len(await timetable.notifications()) == 2, "low again after recovering: alerts again"


async def test_runs_missed_while_stopped_run_once_and_a_restart_does_not_repeat_a_run(timetable: Timetable) -> None:
    await timetable.camera("cam-full", sd_used_pct=95)
    rule_id = await timetable.rule(
        CameraHealthRule(battery_below_pct=None, sd_above_pct=90, silent=False, at=time(8, 0)), kind="camera_health"
    )
    # Down for three days: the 08:00 runs of the 29th, 30th and 1st were missed.
    await timetable.clock.set(datetime(2026, 12, 1, 12, 0, tzinfo=BERLIN).astimezone(UTC))
    await timetable.start()
    await timetable.until(datetime(2026, 12, 1, 12, 0))
    schedule = await timetable.pool.fetchrow("SELECT * FROM schedules WHERE rule_id = $1", rule_id)
    assert schedule["last_run_at"] == datetime(2026, 12, 1, 12, 0, tzinfo=BERLIN), "the missed runs, once, now"
    assert schedule["next_run_at"] == datetime(2026, 12, 2, 8, 0, tzinfo=BERLIN)
    assert len(await timetable.notifications()) == 1, "three missed runs collapse into one"

    await timetable.stop()
    await timetable.start()
    await timetable.until(datetime(2026, 12, 1, 18, 0))
    again = await timetable.pool.fetchrow("SELECT * FROM schedules WHERE rule_id = $1", rule_id)
    assert again["last_run_at"] == schedule["last_run_at"], "a restart the same day does not run the check again"
    await timetable.until(datetime(2026, 12, 2, 8, 0))
    after = await timetable.pool.fetchrow("SELECT * FROM schedules WHERE rule_id = $1", rule_id)
    assert after["last_run_at"] == datetime(2026, 12, 2, 8, 0, tzinfo=BERLIN), "nor skips the next one"
    assert after["next_run_at"] == datetime(2026, 12, 3, 8, 0, tzinfo=BERLIN)


async def test_a_reminder_reaches_every_member_of_the_project_that_day_once(timetable: Timetable, unique: str) -> None:
    colleague = await accounts.add_user(
        timetable.pool,
        f"colleague-{unique}@example.org",
        hash_password("pw"),
        role=accounts.Role.VIEWER,
        project=timetable.project,
        by="test",
    )
    rule_id = await timetable.rule(
        ReminderRule(on=date(2026, 12, 3), message="swap batteries at North gate", at=time(9, 0)), kind="reminder"
    )
    await timetable.start()
    await timetable.until(datetime(2026, 12, 3, 8, 59))
    assert await timetable.notifications() == []
    await timetable.until(datetime(2026, 12, 3, 9, 0))
    sent = await timetable.notifications("reminder")
    assert sorted(row["user_id"] for row in sent) == sorted([timetable.user_id, colleague])
    assert all(row["payload"]["message"] == "swap batteries at North gate" for row in sent)
    assert await timetable.pool.fetchval("SELECT count(*) FROM schedules WHERE rule_id = $1", rule_id) == 1
    assert await timetable.pool.fetchval("SELECT next_run_at FROM schedules WHERE rule_id = $1", rule_id) is None
    await timetable.until(datetime(2026, 12, 4, 9, 0))
    assert len(await timetable.notifications("reminder")) == 2, "sent on its day only"


async def test_too_many_images_in_a_day_and_a_silent_project_are_project_alerts(timetable: Timetable) -> None:
    camera = await timetable.camera("cam-branch")
    now = timetable.clock.now()
    await timetable.photos(camera, [now - timedelta(minutes=minute) for minute in range(60)])
    await timetable.rule(ProjectRule(max_images_per_camera_day=50, silent_hours=48), kind="project")
    await timetable.start()
    await timetable.until(datetime(2026, 11, 29, 7, 0))
    busy = await timetable.notifications("status")
    assert len(busy) == 1 and "cam-branch" in " ".join(busy[0]["payload"]["lines"])
    # No photos for two days: the project is silent (and the busy day is over).
    await timetable.until(datetime(2026, 12, 1, 7, 0))
    silent = await timetable.notifications("status")
    assert len(silent) == 2
    assert "48" in " ".join(silent[1]["payload"]["lines"]) or "silent" in silent[1]["subject"].lower()
    await timetable.until(datetime(2026, 12, 1, 10, 0))
    assert len(await timetable.notifications("status")) == 2, "still silent: not repeated every hour"


async def test_theft_watch_notices_a_camera_silent_against_its_own_rhythm(timetable: Timetable) -> None:
    camera = await timetable.camera("cam-gate")
    now = timetable.clock.now()
    # A photo every hour for two days, the last one just now.
    await timetable.photos(camera, [now - timedelta(hours=hours) for hours in range(48)])
    await timetable.rule(TheftWatchRule(sensitivity="high"), kind="theft_watch")
    await timetable.start()
    await timetable.until(datetime(2026, 11, 29, 7, 0))
    assert await timetable.notifications() == [], "an hour after the last photo is its usual rhythm"
    await timetable.until(datetime(2026, 11, 29, 12, 0))
    silent = await timetable.notifications("status")
    assert len(silent) == 1 and silent[0]["camera_id"] == camera
    await timetable.until(datetime(2026, 11, 29, 18, 0))
    assert len(await timetable.notifications("status")) == 1


async def test_a_weekly_species_report_counts_independent_detections_per_100_trap_days(timetable: Timetable) -> None:
    camera = await timetable.camera("cam-report")
    await timetable.pool.execute("INSERT INTO deployments (camera_id, starts_on) VALUES ($1, '2026-11-01')", camera)
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    image_ids = await timetable.photos(camera, [monday, monday + timedelta(minutes=10), monday + timedelta(days=2)])
    await timetable.pool.execute("UPDATE images SET thumbnail_key = 'derived/x.jpg' WHERE id = ANY($1)", image_ids)
    for offset, image_id in zip((0, 10, 2 * 24 * 60), image_ids, strict=True):
        started = monday + timedelta(minutes=offset)
        event_id = await timetable.pool.fetchval(
            """INSERT INTO events (project_id, camera_id, started_at, ended_at, image_count, label, taxon,
                   common_name, score, max_count)
               VALUES ($1, $2, $3, $3, 1, 'animal', 'Capreolus capreolus', 'roe deer', 0.9, 2) RETURNING id""",
            timetable.project_id,
            camera,
            started,
        )
        await timetable.pool.execute("UPDATE images SET event_id = $1 WHERE id = $2", event_id, image_id)
    await timetable.rule(SpeciesReportRule(period="weekly", at=time(7, 0)), kind="species_report")
    await timetable.start()
    await timetable.until(datetime(2026, 11, 30, 7, 0))  # Monday
    reports = await timetable.notifications("species_report")
    assert len(reports) == 1
    payload = reports[0]["payload"]
    assert (payload["from"], payload["to"]) == ("2026-11-23", "2026-11-29")
    assert payload["trap_days"] == pytest.approx(7.0, abs=0.1)
    (roe,) = payload["rows"]
    assert (roe["taxon"], roe["events"], roe["independent"]) == ("Capreolus capreolus", 3, 2)
    assert roe["per_100_trap_days"] == pytest.approx(2 / 7 * 100, abs=0.1)
    assert roe["best_image_id"] in image_ids and roe["photo_cid"]


async def test_dead_letters_piling_up_alert_the_server_admins_once(timetable: Timetable, unique: str) -> None:
    admin = await accounts.add_user(
        timetable.pool,
        f"root-{unique}@example.org",
        hash_password("pw"),
        role=accounts.Role.SERVER_ADMIN,
        project=None,
        by="test",
    )
    camera = await timetable.camera("cam-broken")
    now = timetable.clock.now()
    for image_id in await timetable.photos(camera, [now - timedelta(minutes=minute) for minute in range(25)]):
        await timetable.pool.execute(
            "INSERT INTO dead_letters (image_id, stage, error, attempts) VALUES ($1, 'detect', 'x', 5)", image_id
        )
    await timetable.start()
    await timetable.until(datetime(2026, 11, 29, 6, 1))
    sent = [row for row in await timetable.notifications("admin") if row["user_id"] == admin]
    assert len(sent) == 1 and sent[0]["channel"] == "email", "Telegram only for admins who linked a chat"
    assert "25" in " ".join(sent[0]["payload"]["lines"])
    await timetable.until(datetime(2026, 11, 29, 7, 0))
    assert len([row for row in await timetable.notifications("admin") if row["user_id"] == admin]) == 1


async def test_the_daily_digest_sums_up_yesterday_in_the_project_time_zone(timetable: Timetable) -> None:
    camera = await timetable.camera("cam-digest", battery=10)
    # Saturday 28 November in Berlin: 00:30 local is 23:30 UTC on the 27th, and counts for the 28th.
    yesterday = [datetime(2026, 11, 27, 23, 30, tzinfo=UTC), datetime(2026, 11, 28, 12, 0, tzinfo=UTC)]
    too_early = [datetime(2026, 11, 27, 22, 30, tzinfo=UTC)]  # 23:30 on the 27th in Berlin
    await timetable.photos(camera, yesterday + too_early)
    for started, label, taxon in (
        (yesterday[0], "animal", "Capreolus capreolus"),
        (yesterday[1], "person", None),
        (too_early[0], "animal", "Sus scrofa"),
    ):
        await timetable.pool.execute(
            """INSERT INTO events (project_id, camera_id, started_at, ended_at, label, taxon, common_name, score)
               VALUES ($1, $2, $3, $3, $4, $5, $6, 0.9)""",
            timetable.project_id,
            camera,
            started,
            label,
            taxon,
            "roe deer" if taxon == "Capreolus capreolus" else None,
        )
    await timetable.rule(DigestRule(at=time(7, 0)), kind="digest")
    await timetable.start()
    await timetable.until(datetime(2026, 11, 29, 7, 0))
    (digest,) = await timetable.notifications("digest")
    payload = digest["payload"]
    assert payload["date"] == "2026-11-28"
    (project,) = payload["projects"]
    assert (project["photos"], project["events"]) == (2, {"animal": 1, "person": 1, "vehicle": 0})
    assert project["top_species"] == [{"name": "roe deer", "count": 1}]
    assert any("cam-digest" in line and "10 %" in line for line in project["attention"])
    await timetable.until(datetime(2026, 11, 30, 7, 0))
    assert [row["payload"]["date"] for row in await timetable.notifications("digest")] == [
        "2026-11-28",
        "2026-11-29",
    ]


async def test_a_run_due_while_the_database_is_down_runs_once_it_is_back(
    timetable: Timetable, servers: Servers, fresh_dsn: str
) -> None:
    await timetable.camera("cam-outage", battery=5)
    rule_id = await timetable.rule(
        CameraHealthRule(battery_below_pct=20, sd_above_pct=None, silent=False, at=time(8, 0)), kind="camera_health"
    )
    scheduler = await timetable.start()
    async with database_down(servers, fresh_dsn):
        await timetable.clock.set(datetime(2026, 11, 29, 8, 0, tzinfo=BERLIN).astimezone(UTC))
        await eventually(lambda: scheduler.last_error is not None, timeout=10, what="the scheduler to see the outage")
    await timetable.until(datetime(2026, 11, 29, 8, 1))  # its next look (at most a minute later) finds the db back
    assert len(await timetable.notifications()) == 1
    assert await timetable.pool.fetchval("SELECT last_run_at FROM schedules WHERE rule_id = $1", rule_id)
    assert scheduler.restarts == 0
