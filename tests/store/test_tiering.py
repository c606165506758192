"""The hot budget against a real database and real stores: the oldest done originals move, nothing else does."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from addax.store.database import create_pool
from addax.store.object_fs import FilesystemObjectStore
from addax.store.object_tiers import TieredObjectStore
from addax.store.objects import copy_object
from addax.store.tiering import TierUse, enforce_hot_budget, hot_use, storage_use
from tests.store.media_rows import Media


@pytest.fixture
def tiers(tmp_path: Path) -> TieredObjectStore:
    return TieredObjectStore(hot=FilesystemObjectStore(tmp_path / "hot"), cold=FilesystemObjectStore(tmp_path / "cold"))


async def tiers_of(pool: asyncpg.Pool) -> dict[int, str]:
    return {row["id"]: row["original_tier"] for row in await pool.fetch("SELECT id, original_tier FROM images")}


async def test_the_oldest_done_originals_move_until_under_budget(
    own_pool: asyncpg.Pool, tiers: TieredObjectStore, tmp_path: Path
) -> None:
    media = await Media.project(own_pool, tiers, "budget")
    first, first_keys = await media.photo(1000)
    waiting, _ = await media.photo(1000, stage="classified")  # older than the rest, but the pipeline reads it
    second, _ = await media.photo(1000)
    third, _ = await media.photo(1000)
    fourth, _ = await media.photo(1000)
    before = {key: await tiers.read(key) for key in first_keys.values()}

    report = await enforce_hot_budget(own_pool, tiers, 2500, tmp_path / "spool", batch=2)

    assert (report.hot_bytes_before, report.hot_bytes_after, report.moved, report.moved_bytes) == (5000, 2000, 3, 3000)
    assert await tiers_of(own_pool) == {first: "cold", waiting: "hot", second: "cold", third: "cold", fourth: "hot"}
    assert await tiers.tier_of(first_keys["original"]) == "cold"
    assert await tiers.tier_of(first_keys["thumbnail"]) == "hot"  # derivatives stay hot
    assert await tiers.tier_of(first_keys["annotated"]) == "hot"
    assert {key: await tiers.read(key) for key in first_keys.values()} == before  # every byte still reads
    assert await hot_use(own_pool) == 2000

    again = await enforce_hot_budget(own_pool, tiers, 2500, tmp_path / "spool")
    assert (again.moved, again.still_over) == (0, False)


async def test_over_budget_with_only_unprocessed_photos_moves_nothing(
    own_pool: asyncpg.Pool, tiers: TieredObjectStore, tmp_path: Path
) -> None:
    media = await Media.project(own_pool, tiers, "busy")
    done, _ = await media.photo(1000)
    for stage in ("stored", "detected", "classified", "failed"):
        await media.photo(1000, stage=stage)

    report = await enforce_hot_budget(own_pool, tiers, 100, tmp_path / "spool")

    assert (report.moved, report.still_over, report.hot_bytes_after) == (1, True, 4000)
    assert [image for image, tier in (await tiers_of(own_pool)).items() if tier == "cold"] == [done]


async def test_a_crash_between_copy_and_delete_is_finished_by_the_next_run(
    own_pool: asyncpg.Pool, tiers: TieredObjectStore, tmp_path: Path
) -> None:
    media = await Media.project(own_pool, tiers, "crash")
    torn, torn_keys = await media.photo(1000)
    half, half_keys = await media.photo(1000)
    await media.photo(1000)
    # The first crashed after the copy (in both tiers, row hot); the second after the hot delete (row still hot).
    await copy_object(tiers.hot, tiers.cold, torn_keys["original"], spool_dir=tmp_path)
    await tiers.demote(half_keys["original"], tmp_path)

    report = await enforce_hot_budget(own_pool, tiers, 1000, tmp_path / "spool")

    assert (report.moved, report.hot_bytes_after) == (2, 1000)
    assert (await tiers_of(own_pool))[torn] == "cold" and (await tiers_of(own_pool))[half] == "cold"
    assert not await tiers.hot.exists(torn_keys["original"]) and not await tiers.hot.exists(half_keys["original"])
    assert await tiers.read(torn_keys["original"]) == await tiers.cold.read(torn_keys["original"])


async def test_two_enforcers_at_once_move_each_original_once(
    own_pool: asyncpg.Pool, fresh_dsn: str, tiers: TieredObjectStore, tmp_path: Path
) -> None:
    media = await Media.project(own_pool, tiers, "race")
    ids = [(await media.photo(1000))[0] for _ in range(12)]
    other_pool = await create_pool(fresh_dsn, size=2)  # a second process's pool
    try:
        reports = await asyncio.gather(
            enforce_hot_budget(own_pool, tiers, 6000, tmp_path / "a", batch=2),
            enforce_hot_budget(other_pool, tiers, 6000, tmp_path / "b", batch=2),
        )
    finally:
        await other_pool.close()

    assert sum(report.moved for report in reports) == 6
    assert await tiers_of(own_pool) == {image: "cold" if n < 6 else "hot" for n, image in enumerate(ids)}
    assert await hot_use(own_pool) == 6000


async def test_storage_use_per_project_and_tier_equals_the_sums(
    own_pool: asyncpg.Pool, tiers: TieredObjectStore, tmp_path: Path
) -> None:
    north = await Media.project(own_pool, tiers, "north")
    south = await Media.project(own_pool, tiers, "south")
    for size in (100, 200, 300):
        await north.photo(size)
    await north.photo(50, stage="stored")
    await south.photo(7000)
    await south.photo(11, stage="detected")

    await enforce_hot_budget(own_pool, tiers, 400, tmp_path / "spool")  # moves 100, 200, 300 and then 7000

    use = await storage_use(own_pool)
    assert use == [
        TierUse(north.project_id, "north", "hot", 1, 50),
        TierUse(north.project_id, "north", "cold", 3, 600),
        TierUse(south.project_id, "south", "hot", 1, 11),
        TierUse(south.project_id, "south", "cold", 1, 7000),
    ]
    assert await storage_use(own_pool, projects=[south.project_id]) == use[2:]
    cold_bytes = sum([item.size async for item in tiers.cold.list("originals/")])
    assert cold_bytes == 7600 == sum(item.bytes for item in use if item.tier == "cold")


async def test_originals_missing_from_both_tiers_do_not_stop_the_budget_forever(
    own_pool: asyncpg.Pool, tiers: TieredObjectStore, tmp_path: Path
) -> None:
    """A full batch of oldest originals deleted behind our back must not hide the ones after them from every run."""
    media = await Media.project(own_pool, tiers, "holes")
    for _ in range(3):
        _, keys = await media.photo(1000)
        await tiers.hot.delete(keys["original"])
    present, present_keys = await media.photo(1000)

    report = await enforce_hot_budget(own_pool, tiers, 3500, tmp_path / "spool", batch=2)

    assert report.moved == 1
    assert (await tiers_of(own_pool))[present] == "cold"
    assert await tiers.tier_of(present_keys["original"]) == "cold"
