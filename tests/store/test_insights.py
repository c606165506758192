"""The insights aggregates on the real database: a person's verification wins over the model, one project only."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from addax.domain.insights import MISSED, NO_SPECIES, REMOVED
from addax.store import accounts
from addax.store import insights as store
from addax.store.insights import Scope

T0 = datetime(2024, 6, 3, 5, 10, tzinfo=UTC)
WINDOW = (datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC))


class World:
    def __init__(self, pool: asyncpg.Pool, project_id: int) -> None:
        self.pool = pool
        self.project_id = project_id
        self.sites: dict[str, int] = {}
        self.cameras: dict[str, int] = {}

    async def site(self, name: str) -> int:
        self.sites[name] = await self.pool.fetchval(
            "INSERT INTO sites (project_id, name) VALUES ($1, $2) RETURNING id", self.project_id, name
        )
        return self.sites[name]

    async def camera(self, name: str, site: str, starts: date, ends: date | None) -> int:
        camera_id = await self.pool.fetchval(
            "INSERT INTO cameras (project_id, identity, identity_kind, name)"
            " VALUES ($1, $2, 'serial', $3) RETURNING id",
            self.project_id,
            uuid.uuid4().hex,
            name,
        )
        await self.pool.execute(
            "INSERT INTO deployments (camera_id, site_id, starts_on, ends_on) VALUES ($1, $2, $3, $4)",
            camera_id,
            self.sites[site],
            starts,
            ends,
        )
        self.cameras[name] = camera_id
        return int(camera_id)

    async def photo(
        self,
        camera: str,
        site: str,
        taken_at: datetime,
        boxes: list[tuple[str, float, str]],
        *,
        offset: int | None = 0,
        verification: dict[str, Any] | None = None,
    ) -> int:
        """A done photo with model boxes (label, score, top-1 species); the trigger makes its summary."""
        image_id = await self.pool.fetchval(
            """INSERT INTO images (project_id, camera_id, site_id, stage, sha256, original_name, source, size_bytes,
                                   taken_at, utc_offset_minutes)
               VALUES ($1, $2, $3, 'classified', $4, 'x.jpg', 'import', 1, $5, $6) RETURNING id""",
            self.project_id,
            self.cameras[camera],
            self.sites[site],
            hashlib.sha256(uuid.uuid4().bytes).digest(),
            taken_at,
            offset,
        )
        for index, (label, score, taxon) in enumerate(boxes):
            detection = await self.pool.fetchval(
                "INSERT INTO detections (image_id, index, label, score, bbox, model)"
                " VALUES ($1, $2, $3, $4, '{0.1,0.1,0.2,0.2}', 'md') RETURNING id",
                image_id,
                index,
                label,
                score,
            )
            await self.pool.execute(
                "INSERT INTO classifications (detection_id, taxon, score, model, rank) VALUES ($1, $2, 0.9, 'df', 1)",
                detection,
                taxon,
            )
        await self.pool.execute("UPDATE images SET stage = 'done' WHERE id = $1", image_id)
        if verification is not None:
            boxes_json = verification.get("boxes", [])
            await self.pool.execute(
                "INSERT INTO verifications (image_id, boxes, blank, individuals) VALUES ($1, $2, $3, $4)",
                image_id,
                boxes_json,
                verification.get("blank", False),
                verification.get("individuals"),
            )
            taxa = sorted({box["taxon"] for box in boxes_json if box.get("taxon")})
            await self.pool.execute("UPDATE images SET verified = true, taxa = $2 WHERE id = $1", image_id, taxa)
        return int(image_id)


@pytest.fixture
async def world(pool: asyncpg.Pool, unique: str) -> World:
    world = World(pool, await accounts.add_project(pool, f"insights-{unique}", by="test"))
    await world.site("North")
    await world.site("South")
    await world.camera("cam north", "North", date(2024, 6, 1), date(2024, 6, 10))  # 10 days
    await world.camera("cam south", "South", date(2024, 6, 1), None)  # 30 days in June
    # two deer photos 10 minutes apart at 07:10 and 07:20 camera time (UTC+2), the second with two deer;
    # a fox box below the detection threshold counts for nothing
    await world.photo("cam north", "North", T0, [("animal", 0.9, "deer"), ("animal", 0.3, "fox")], offset=120)
    await world.photo(
        "cam north", "North", T0 + timedelta(minutes=10), [("animal", 0.8, "deer"), ("animal", 0.7, "deer")], offset=120
    )
    # the model's deer is three boars, says a person
    await world.photo(
        "cam south",
        "South",
        datetime(2024, 6, 4, 22, 0, tzinfo=UTC),
        [("animal", 0.9, "deer")],
        verification={"boxes": [{"detection": 0, "label": "animal", "taxon": "boar", "count": 3}]},
    )
    # the model's fox is nothing
    await world.photo(
        "cam south",
        "South",
        datetime(2024, 6, 5, 3, 0, tzinfo=UTC),
        [("animal", 0.7, "fox")],
        verification={"blank": True},
    )
    # a deer confirmed, and a fox the model missed (the photo's count of 7 is not one species')
    await world.photo(
        "cam south",
        "South",
        datetime(2024, 6, 5, 12, 0, tzinfo=UTC),
        [("animal", 0.9, "deer")],
        verification={
            "boxes": [
                {"detection": 0, "label": "animal", "taxon": "deer", "count": 1},
                {"detection": None, "label": "animal", "taxon": "fox", "count": 1},
            ],
            "individuals": 7,
        },
    )
    await world.photo("cam south", "South", datetime(2024, 7, 2, tzinfo=UTC), [("animal", 0.9, "deer")])  # later
    other = World(pool, await accounts.add_project(pool, f"insights-other-{unique}", by="test"))
    await other.site("North")
    await other.camera("elsewhere", "North", date(2024, 6, 1), None)
    await other.photo("elsewhere", "North", T0, [("animal", 0.9, "deer")])
    return world


def scope(world: World, site: str | None = None) -> Scope:
    return Scope(world.project_id, *WINDOW, world.sites[site] if site else None)


async def test_counts_hours_and_group_sizes_use_the_verified_species(world: World) -> None:
    counts = await store.counts_over_time(world.pool, scope(world), "day")
    assert sorted(counts) == [
        ("boar", "2024-06-04", 1),
        ("deer", "2024-06-03", 2),
        ("deer", "2024-06-05", 1),
        ("fox", "2024-06-05", 1),
    ]
    weekly = await store.counts_over_time(world.pool, scope(world), "week")
    assert sorted(weekly) == [("boar", "2024-06-03", 1), ("deer", "2024-06-03", 3), ("fox", "2024-06-03", 1)]
    assert sorted(await store.photos_by_hour(world.pool, scope(world))) == [
        ("boar", 22, 1),
        ("deer", 7, 2),  # camera time, not UTC
        ("deer", 12, 1),
        ("fox", 12, 1),
    ]
    assert sorted(await store.group_sizes(world.pool, scope(world))) == [
        ("boar", 3, 1),
        ("deer", 1, 2),
        ("deer", 2, 1),
        ("fox", 1, 1),
    ]
    times = await store.times_of_day(world.pool, scope(world), ["deer", "wolf"])
    assert times == {"deer": {7 + 10 / 60: 1, 7 + 20 / 60: 1, 12.0: 1}, "wolf": {}}


async def test_the_site_filter(world: World) -> None:
    assert sorted(await store.counts_over_time(world.pool, scope(world, "North"), "day")) == [("deer", "2024-06-03", 2)]
    assert list(await store.spans_by_site(world.pool, scope(world, "North"))) == ["North"]
    assert [d.camera for d in await store.deployments(world.pool, scope(world, "South"))] == ["cam south"]


async def test_sightings_spans_and_occupancy_inputs(world: World) -> None:
    found = sorted((s.taxon, s.site, s.at, s.individuals) for s in await store.sightings(world.pool, scope(world)))
    assert found == [
        ("boar", "South", datetime(2024, 6, 4, 22, 0, tzinfo=UTC), 3),
        ("deer", "North", T0, 1),
        ("deer", "North", T0 + timedelta(minutes=10), 2),
        ("deer", "South", datetime(2024, 6, 5, 12, 0, tzinfo=UTC), 1),
        ("fox", "South", datetime(2024, 6, 5, 12, 0, tzinfo=UTC), 1),
    ]
    spans = await store.spans_by_site(world.pool, scope(world))
    assert {site: [(s.end - s.start).days for s in found if s.end] for site, found in spans.items()} == {
        "North": [10],
        "South": [],
    }
    assert await store.sites_by_species(world.pool, scope(world)) == {
        "boar": ["South"],
        "deer": ["North", "South"],
        "fox": ["South"],
    }
    deployments = await store.deployments(world.pool, scope(world))
    assert [(d.camera, d.site, d.starts_on, d.ends_on) for d in deployments] == [
        ("cam north", "North", date(2024, 6, 1), date(2024, 6, 10)),
        ("cam south", "South", date(2024, 6, 1), None),
    ]


async def test_model_performance_per_photo_and_per_box(world: World) -> None:
    assert sorted(await store.confusion_per_photo(world.pool, scope(world))) == [
        (NO_SPECIES, "fox", 1),
        ("boar", "deer", 1),
        ("deer", "deer", 1),
    ]
    assert sorted(await store.confusion_per_box(world.pool, scope(world))) == [
        (REMOVED, "fox", 1),
        ("boar", "deer", 1),
        ("deer", "deer", 1),
        ("fox", MISSED, 1),
    ]


async def test_an_empty_project_has_no_figures(pool: asyncpg.Pool, unique: str) -> None:
    empty = Scope(await accounts.add_project(pool, f"insights-empty-{unique}", by="test"), *WINDOW)
    assert await store.counts_over_time(pool, empty, "week") == []
    assert await store.sightings(pool, empty) == []
    assert await store.spans_by_site(pool, empty) == {}
    assert await store.confusion_per_box(pool, empty) == []
    assert await store.times_of_day(pool, empty, []) == {}


async def test_the_queries_start_from_the_project_s_photos(world: World) -> None:
    """No sequential scan of images: the plan of the biggest query uses the project's index."""
    async with world.pool.acquire() as connection:
        await connection.execute("SET enable_seqscan = off")  # a tiny table would otherwise be scanned anyway
        rows = await connection.fetch(
            "EXPLAIN " + store._SIGHTINGS + "SELECT count(*) FROM sightings", *scope(world).args()
        )
    text = "\n".join(row[0] for row in rows)
    assert "images_project_taken" in text and "Seq Scan on images" not in text
