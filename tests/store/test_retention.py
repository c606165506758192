"""Retention on a real database and store: the dry run lists and keeps; the run deletes rows, then objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from addax.domain.retention import RetentionError, RetentionRules
from addax.domain.secrets import hash_password
from addax.domain.verification import Verification, VerifiedBox
from addax.store import accounts, verifications
from addax.store.object_fs import FilesystemObjectStore
from addax.store.retention import apply_retention, retention_candidates, rules_of, set_rules
from tests.store.media_rows import Media

NOW = datetime.now(UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


@pytest.fixture
def objects(tmp_path: Path) -> FilesystemObjectStore:
    return FilesystemObjectStore(tmp_path / "objects")


async def verifier(pool: asyncpg.Pool, project: str) -> accounts.User:
    await accounts.add_user(pool, "ranger@example.org", hash_password("p"), role=accounts.Role.ANNOTATOR,
                            project=project, by="t")  # fmt: skip
    user = await accounts.find_user(pool, "ranger@example.org")
    assert user is not None
    return user


ANIMAL = Verification(boxes=(VerifiedBox(None, "animal", "Meles meles", "badger", 1, None),))
BLANK = Verification(boxes=(), blank=True)


async def test_blanks_older_than_n_days_go_with_their_objects_animals_stay(
    own_pool: asyncpg.Pool, objects: FilesystemObjectStore
) -> None:
    park = await Media.project(own_pool, objects, "park")
    other = await Media.project(own_pool, objects, "other")  # no rules: nothing of it goes
    await set_rules(own_pool, "park", by="cli:test", blank_days=30, person_days=7)
    old_blank, old_blank_keys = await park.photo(received_at=days_ago(31))
    old_clip, old_clip_keys = await park.photo(received_at=days_ago(40), keyframes=2)
    young_blank, _ = await park.photo(received_at=days_ago(29))
    old_animal, _ = await park.photo(labels=("animal",), received_at=days_ago(400))
    old_person, old_person_keys = await park.photo(labels=("person",), received_at=days_ago(8))
    old_vehicle, _ = await park.photo(labels=("vehicle",), received_at=days_ago(400))  # no vehicle rule
    waiting, _ = await park.photo(stage="classified", received_at=days_ago(400))
    unknown, _ = await park.photo(received_at=days_ago(400), blur_all=True)
    said_animal, _ = await park.photo(received_at=days_ago(400))  # the model saw nothing; a person did
    said_blank, said_blank_keys = await park.photo(labels=("animal",), received_at=days_ago(400))
    elsewhere, _ = await other.photo(received_at=days_ago(400))
    user = await verifier(own_pool, "park")
    await verifications.save(own_pool, said_animal, ANIMAL, by=user)
    await verifications.save(own_pool, said_blank, BLANK, by=user)
    await own_pool.execute(
        "INSERT INTO detections (image_id, index, label, score, bbox, model) VALUES ($1, 0, 'person', 0.2,"
        " '{0,0,1,1}', 'md')",
        old_blank,
    )  # below the threshold: still blank, and its box goes with it
    doomed = {old_blank, old_clip, old_person, said_blank}
    images_before = await own_pool.fetchval("SELECT count(*) FROM images")

    dry = await apply_retention(own_pool, objects, NOW, dry_run=True)
    listed = [candidate async for candidate in retention_candidates(own_pool, None, NOW)]

    assert {candidate.image_id for candidate in dry.examples} == doomed == {c.image_id for c in listed}
    assert (dry.images, dry.bytes) == (4, 4000)
    assert await own_pool.fetchval("SELECT count(*) FROM images") == images_before
    assert await own_pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'retention.delete'") == 0
    assert all([await objects.exists(key) for key in old_blank_keys.values()])
    why = {candidate.image_id: candidate.why for candidate in listed}
    assert why[old_blank] == "blank, older than 30 days" and why[old_person] == "person, older than 7 days"
    assert all(candidate.project == "park" for candidate in listed)

    report = await apply_retention(own_pool, objects, NOW, dry_run=False, by="cli:test")

    assert (report.images, report.bytes, report.objects_left) == (4, 4000, [])
    left = {row["id"] for row in await own_pool.fetch("SELECT id FROM images")}
    kept = {young_blank, old_animal, old_vehicle, waiting, unknown, said_animal, elsewhere}
    assert left == kept
    assert await own_pool.fetchval("SELECT count(*) FROM detections WHERE image_id = $1", old_blank) == 0
    assert await own_pool.fetchval("SELECT count(*) FROM verifications WHERE image_id = $1", said_blank) == 0
    for keys in (old_blank_keys, old_clip_keys, old_person_keys, said_blank_keys):
        assert len(keys) >= 3 and not any([await objects.exists(key) for key in keys.values()])
    assert len(old_clip_keys) == 5  # original, thumbnail, annotated and two keyframes
    remaining = [item.key async for item in objects.list("originals/")]
    assert len(remaining) == len(kept)
    audited = await own_pool.fetch(
        "SELECT actor, target, details FROM audit_log WHERE action = 'retention.delete' ORDER BY target"
    )
    assert sorted(row["target"] for row in audited) == sorted(f"image:{image}" for image in doomed)
    entry = next(row for row in audited if row["target"] == f"image:{old_blank}")
    assert entry["actor"] == "cli:test"
    assert entry["details"] == {
        "project": "park", "key": old_blank_keys["original"], "taken_at": None, "why": "blank, older than 30 days",
    }  # fmt: skip

    again = await apply_retention(own_pool, objects, NOW, dry_run=False)
    assert again.images == 0


async def test_a_verification_saved_after_the_listing_still_saves_the_photo(
    own_pool: asyncpg.Pool, objects: FilesystemObjectStore
) -> None:
    park = await Media.project(own_pool, objects, "park")
    await set_rules(own_pool, "park", by="t", blank_days=1)
    image_id, keys = await park.photo(received_at=days_ago(5))
    listing = retention_candidates(own_pool, park.project_id, NOW)
    assert (await anext(listing)).image_id == image_id
    await verifications.save(own_pool, image_id, ANIMAL, by=await verifier(own_pool, "park"))

    report = await apply_retention(own_pool, objects, NOW, dry_run=False, project_id=park.project_id)

    assert report.images == 0
    assert await own_pool.fetchval("SELECT count(*) FROM images WHERE id = $1", image_id) == 1
    assert await objects.exists(keys["original"])


async def test_emptied_events_go_and_the_others_count_what_is_left(
    own_pool: asyncpg.Pool, objects: FilesystemObjectStore
) -> None:
    park = await Media.project(own_pool, objects, "park")
    await set_rules(own_pool, "park", by="t", blank_days=1)
    blank_a, _ = await park.photo(received_at=days_ago(5))
    blank_b, _ = await park.photo(received_at=days_ago(5))
    blank_c, _ = await park.photo(received_at=days_ago(5))
    badger, _ = await park.photo(labels=("animal",), received_at=days_ago(5))
    emptied, shared = [
        await own_pool.fetchval(
            "INSERT INTO events (project_id, started_at, ended_at, image_count) VALUES ($1, now(), now(), $2)"
            " RETURNING id",
            park.project_id,
            count,
        )
        for count in (2, 2)
    ]
    for image, event in ((blank_a, emptied), (blank_b, emptied), (blank_c, shared), (badger, shared)):
        await own_pool.execute("UPDATE images SET event_id = $2 WHERE id = $1", image, event)

    await apply_retention(own_pool, objects, NOW, dry_run=False, batch=2)

    events = {row["id"]: row["image_count"] for row in await own_pool.fetch("SELECT id, image_count FROM events")}
    assert events == {shared: 1}


async def test_rules_are_set_cleared_checked_and_audited(own_pool: asyncpg.Pool) -> None:
    await accounts.add_project(own_pool, "park", by="t")
    assert await set_rules(own_pool, "park", by="cli:ops", blank_days=30, vehicle_days=60) == RetentionRules(
        blank_days=30, vehicle_days=60
    )
    assert (await rules_of(own_pool, "park"))[1] == RetentionRules(blank_days=30, vehicle_days=60)
    assert await set_rules(own_pool, "park", by="cli:ops", blank_days=None, person_days=3) == RetentionRules(
        person_days=3, vehicle_days=60
    )
    with pytest.raises(RetentionError, match="at least 1"):
        await set_rules(own_pool, "park", by="cli:ops", blank_days=0)
    with pytest.raises(RetentionError, match="no project named 'nowhere'"):
        await set_rules(own_pool, "nowhere", by="cli:ops", blank_days=3)
    with pytest.raises(RetentionError, match="retention settings are"):
        await set_rules(own_pool, "park", by="cli:ops", animal_days=3)
    audited = await own_pool.fetch("SELECT actor, details FROM audit_log WHERE action = 'project.retention'")
    assert [row["details"] for row in audited] == [
        {"blank_days": 30, "vehicle_days": 60},
        {"blank_days": None, "person_days": 3},
    ]
    assert (await rules_of(own_pool, "park"))[1] == RetentionRules(person_days=3, vehicle_days=60)
