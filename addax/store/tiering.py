"""The hot budget kept: above it, the oldest fully processed originals move to the cold tier.

Hot use is the sum of ``size_bytes`` of the originals whose row says hot (an index-only sum, no listing of the
store). Thumbnails, annotated copies and video keyframes are not counted and never move: they are small (a
few percent of a photo) and are what the pages show. Set the budget a little under the disk you mean to use.

One enforcer runs at a time (a PostgreSQL advisory lock, so two processes cannot both see the same excess and
move twice as much); the rows it moves are also taken ``FOR UPDATE SKIP LOCKED``. Per image the object moves
first and the row after: a crash between leaves a 'hot' row whose object is cold, which still reads (the
tiered store tries both tiers) and which the next run puts right (``demote`` of a cold object is a no-op).
Only images at stage 'done' move: the pipeline still reads the others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from addax.store.object_tiers import Tier, TieredObjectStore
from addax.store.objects import ObjectMissing

log = logging.getLogger("addax.tiering")

BATCH = 50
LOCK = 0x61646478_7469  # pg advisory lock key: one hot-budget enforcer across every process


@dataclass(frozen=True, slots=True)
class TierReport:
    hot_bytes_before: int
    hot_bytes_after: int
    moved: int  # originals demoted by this run
    moved_bytes: int
    skipped: bool = False  # another process was enforcing the budget
    still_over: bool = False  # over budget with nothing done left to move (photos still in the pipeline)


@dataclass(frozen=True, slots=True)
class TierUse:
    project_id: int
    project: str
    tier: Tier
    images: int
    bytes: int


HOT_USE = "SELECT coalesce(sum(size_bytes), 0) FROM images WHERE original_tier = 'hot' AND original_key IS NOT NULL"


async def hot_use(db: asyncpg.Pool | asyncpg.Connection) -> int:
    return int(await db.fetchval(HOT_USE))


async def enforce_hot_budget(
    pool: asyncpg.Pool, store: TieredObjectStore, budget_bytes: int, spool_dir: Path, *, batch: int = BATCH
) -> TierReport:
    """Demote the oldest done hot originals until hot use is at most ``budget_bytes``."""
    async with pool.acquire() as connection:
        if not await connection.fetchval("SELECT pg_try_advisory_lock($1)", LOCK):
            used = await hot_use(connection)
            return TierReport(used, used, 0, 0, skipped=True)
        try:
            return await _enforce(connection, store, budget_bytes, spool_dir, batch)
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", LOCK)


async def _enforce(
    connection: asyncpg.Connection, store: TieredObjectStore, budget: int, spool_dir: Path, batch: int
) -> TierReport:
    before = used = await hot_use(connection)
    moved = moved_bytes = 0
    after = 0  # the last id looked at: an original missing from both tiers is passed over, not met again each batch
    while used > budget:
        async with connection.transaction():
            rows = await connection.fetch(
                """SELECT id, original_key, size_bytes FROM images
                   WHERE original_tier = 'hot' AND stage = 'done' AND original_key IS NOT NULL AND id > $2
                   ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED""",
                batch,
                after,
            )
            if not rows:
                log.warning("over the hot budget with no processed original left to move", extra={"hot": used})
                return TierReport(before, used, moved, moved_bytes, still_over=True)
            moved_now = 0
            for row in rows:
                if used <= budget:
                    break
                after = row["id"]
                try:
                    await store.demote(row["original_key"], spool_dir)  # the object first ...
                except ObjectMissing as error:  # deleted behind our back: nothing to move; say so, go on
                    log.error("an original is in neither tier", extra={"image": row["id"], "error": str(error)})
                    continue
                await connection.execute("UPDATE images SET original_tier = 'cold' WHERE id = $1", row["id"])
                used -= int(row["size_bytes"])
                moved_now += 1
                moved_bytes += int(row["size_bytes"])
            moved += moved_now
        used = await hot_use(connection)  # others kept writing meanwhile
    if moved:
        log.info("originals moved to the cold tier", extra={"images": moved, "bytes": moved_bytes, "hot": used})
    return TierReport(before, used, moved, moved_bytes)


async def storage_use(pool: asyncpg.Pool, *, projects: list[int] | None = None) -> list[TierUse]:
    """Images and bytes of originals per project and tier (of these projects; None: all), by project name."""
    rows = await pool.fetch(
        """SELECT p.id, p.name, i.original_tier, count(*) AS images, sum(i.size_bytes) AS bytes
           FROM images i JOIN projects p ON p.id = i.project_id
           WHERE i.original_key IS NOT NULL AND ($1::bigint[] IS NULL OR i.project_id = ANY($1::bigint[]))
           GROUP BY p.id, p.name, i.original_tier ORDER BY p.name, i.original_tier DESC""",
        projects,
    )
    return [
        TierUse(int(row["id"]), str(row["name"]), row["original_tier"], int(row["images"]), int(row["bytes"]))
        for row in rows
    ]
