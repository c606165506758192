"""The notifier's decisions on rows written as the finisher writes them (no models): events that merge, photos
received long ago, owners who left, zones and rarity, and what one photo after another adds up to."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from addax.actors.notifier import Notifier
from addax.actors.outbox import Addressing
from addax.domain.alerts import parse_rule
from addax.domain.secrets import hash_password
from addax.domain.sequences import BoxSeen, photo_evidence
from addax.runtime import Supervisor
from addax.runtime.signal import Signal
from addax.store import accounts, alerts, events
from addax.store.database import open_database, ping
from tests.conftest import Servers
from tests.outage import database_down
from tests.waiting import eventually

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


@dataclass
class Scene:
    pool: asyncpg.Pool
    wake: Signal
    project_id: int
    project: str
    user_id: int
    camera_id: int
    notifier: Notifier | None = None
    queued: list[int] = field(default_factory=list)

    async def rule(self, **body: object) -> int:
        return await alerts.add_rule(
            self.pool,
            user_id=self.user_id,
            project_id=self.project_id,
            body=parse_rule({"name": "rule", **body}),
            next_run_at=None,
        )

    async def photo(
        self,
        offset_s: int,
        boxes: list[tuple[str, float, list[float]]] = (),  # type: ignore[assignment]
        *,
        received: datetime | None = None,
        camera_id: int | None = None,
        site_id: int | None = None,
    ) -> int:
        """A photo finished as the finisher finishes one: boxes, its event joined, flagged for the notifier."""
        moment = T0 + timedelta(seconds=offset_s)
        camera = camera_id or self.camera_id
        image_id = await self.pool.fetchval(
            """INSERT INTO images (project_id, camera_id, site_id, stage, sha256, original_name, source, size_bytes,
                   taken_at, utc_offset_minutes, received_at, realtime)
               VALUES ($1, $2, $3, 'done', $4, 'x.jpg', 'ftp', 1, $5, 120, $6, true) RETURNING id""",
            self.project_id,
            camera,
            site_id,
            hashlib.sha256(f"{camera}-{offset_s}".encode()).digest(),
            moment,
            received or datetime.now(UTC),
        )
        for index, (label, score, bbox) in enumerate(boxes):
            await self.pool.execute(
                """INSERT INTO detections (image_id, index, label, score, bbox, model)
                   VALUES ($1, $2, $3, $4, $5, 'md')""",
                image_id,
                index,
                label,
                score,
                bbox,
            )
        async with self.pool.acquire() as connection, connection.transaction():
            await events.join_event(
                connection,
                image_id=image_id,
                project_id=self.project_id,
                camera_id=camera,
                taken_at=moment,
                gap_s=60,
                evidence=photo_evidence([BoxSeen(label, score) for label, score, _ in boxes], 0.5),
            )
            await connection.execute("UPDATE images SET alert_pending = realtime WHERE id = $1", image_id)
        await self.matched()
        return int(image_id)

    async def matched(self) -> None:
        self.wake.notify()

        async def done() -> bool:
            return not await self.pool.fetchval("SELECT count(*) FROM images WHERE alert_pending")

        await eventually(done, timeout=10, what="the notifier to match every flagged photo")

    async def alerts(self) -> list[asyncpg.Record]:
        return await self.pool.fetch("SELECT * FROM notifications ORDER BY id")


ANIMAL = ("animal", 0.9, [0.4, 0.4, 0.2, 0.2])
PERSON = ("person", 0.9, [0.1, 0.5, 0.1, 0.3])


@pytest.fixture
async def scene(fresh_dsn: str, unique: str) -> AsyncIterator[Scene]:
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=4), probe=ping)
        project = f"notify-{unique}"
        project_id = await accounts.add_project(pool, project, by="test")
        user_id = await accounts.add_user(
            pool, f"r-{unique}@example.org", hash_password("pw"), role=accounts.Role.VIEWER, project=project, by="t"
        )
        camera_id = await pool.fetchval(
            """INSERT INTO cameras (project_id, identity, identity_kind, name, status)
               VALUES ($1, 'cam', 'serial', 'cam', 'active') RETURNING id""",
            project_id,
        )
        wake = Signal()
        scene = Scene(pool, wake, project_id, project, user_id, camera_id)

        async def enqueue(ids: list[int]) -> None:
            scene.queued.extend(ids)

        scene.notifier = Notifier(pool=pool, wake=wake, enqueue=enqueue, addressing=Addressing(), poll_s=0.1)
        await supervisor.start(scene.notifier)
        yield scene


async def test_events_that_merge_alert_once(scene: Scene) -> None:
    await scene.rule(labels=["animal"])
    await scene.photo(0)  # nothing in it: event A
    await scene.photo(90, [ANIMAL])  # event B: alerts
    await scene.photo(45)  # late: bridges A and B, which merge
    await scene.photo(100, [ANIMAL])  # joins the merged event
    assert await scene.pool.fetchval("SELECT count(DISTINCT event_id) FROM images") == 1
    (alert,) = await scene.alerts()
    assert alert["event_id"] == await scene.pool.fetchval("SELECT DISTINCT event_id FROM images")
    assert scene.queued == [alert["id"]]


async def test_a_photo_received_long_ago_is_history_not_news(scene: Scene) -> None:
    await scene.rule(labels=["animal"])
    await scene.photo(0, [ANIMAL], received=datetime.now(UTC) - timedelta(days=3))
    assert await scene.alerts() == []
    await scene.photo(600, [ANIMAL])  # received now
    assert len(await scene.alerts()) == 1


async def test_an_owner_who_left_the_project_is_not_told_any_more(scene: Scene) -> None:
    await scene.rule(labels=["animal"])
    await scene.pool.execute("DELETE FROM memberships WHERE user_id = $1", scene.user_id)
    await scene.photo(0, [ANIMAL])
    assert await scene.alerts() == []


async def test_a_zone_counts_only_boxes_whose_feet_are_inside(scene: Scene) -> None:
    # The track: the lower half of the view. The person stands in it (feet at y 0.8); the animal does not.
    track = [[0, 0.7], [1, 0.7], [1, 1], [0, 1]]
    await scene.rule(labels=["animal", "person"], zones=[{"camera": scene.camera_id, "polygon": track}])
    await scene.photo(0, [ANIMAL])
    assert await scene.alerts() == []
    await scene.photo(600, [PERSON])
    (alert,) = await scene.alerts()
    assert "person" in alert["subject"].lower()


async def test_hours_are_the_camera_local_ones(scene: Scene) -> None:
    # T0 is 10:00 UTC, 12:00 on the camera's clock (UTC+2).
    await scene.rule(labels=["animal"], hours=[11, 13])
    await scene.rule(labels=["animal"], hours=[9, 11])
    await scene.photo(0, [ANIMAL])
    (alert,) = await scene.alerts()
    assert alert["rule_id"] == 1 and "12:00" in alert["subject"]


async def test_rare_here_alerts_the_first_sighting_and_not_the_next_one(scene: Scene) -> None:
    await scene.rule(labels=["animal"], rare_days=14)
    await scene.photo(0, [ANIMAL])
    await scene.photo(3600, [ANIMAL])  # another event an hour later: seen here an hour ago, not rare
    assert len(await scene.alerts()) == 1
    await scene.photo(20 * 24 * 3600, [ANIMAL])  # 20 days later: rare again
    assert len(await scene.alerts()) == 2


async def test_a_group_size_needs_that_many_boxes_in_one_photo(scene: Scene) -> None:
    await scene.rule(labels=["animal"], min_group_size=2)
    await scene.photo(0, [ANIMAL])
    assert await scene.alerts() == []
    await scene.photo(600, [ANIMAL, ("animal", 0.8, [0.7, 0.4, 0.1, 0.1])])
    (alert,) = await scene.alerts()
    assert alert["payload"]["count"] == 2


async def test_a_rule_edited_into_nonsense_behind_the_api_does_not_stop_the_others(scene: Scene) -> None:
    broken = await scene.rule(labels=["animal"])
    await scene.pool.execute('UPDATE alert_rules SET settings = \'{"min_score": "high"}\' WHERE id = $1', broken)
    good = await scene.rule(labels=["animal"])
    await scene.photo(0, [ANIMAL])
    (alert,) = await scene.alerts()
    assert alert["rule_id"] == good


async def test_rules_with_no_channel_to_send_with_are_a_health_notice(fresh_dsn: str, unique: str) -> None:
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=2), probe=ping)
        project = f"quiet-{unique}"
        await accounts.add_project(pool, project, by="t")
        user_id = await accounts.add_user(
            pool, f"q-{unique}@example.org", hash_password("pw"), role=accounts.Role.VIEWER, project=project, by="t"
        )
        await alerts.add_rule(
            pool,
            user_id=user_id,
            project_id=await accounts.project_id(pool, project),
            body=parse_rule({"name": "r", "labels": ["animal"]}),
            next_run_at=None,
        )

        async def enqueue(ids: list[int]) -> None:
            raise AssertionError("nothing to send")

        notifier = Notifier(
            pool=pool, wake=Signal(), enqueue=enqueue, addressing=Addressing(email_ready=False, telegram_ready=False)
        )
        await supervisor.start(notifier)
        await eventually(lambda: notifier.detail() is not None, timeout=10, what="the notice")
        assert notifier.detail() == (
            "waiting: 1 alert rule(s) but no channel to send with:"
            " set smtp.host and smtp.from_address, or telegram.bot_token"
        )


async def test_a_dead_database_is_waited_out_and_matching_goes_on(
    scene: Scene, servers: Servers, fresh_dsn: str
) -> None:
    await scene.rule(labels=["animal"])
    notifier = scene.notifier
    assert notifier is not None
    async with database_down(servers, fresh_dsn):
        await eventually(lambda: notifier.last_error is not None, timeout=10, what="the notifier to see the outage")
    await scene.photo(0, [ANIMAL])  # the pool reconnects
    assert len(await scene.alerts()) == 1
    assert notifier.restarts == 0, "an outage is waited out, not a crash"
