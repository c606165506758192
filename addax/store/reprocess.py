"""Sending a rejected file back through the ingestor (after an admin fixed the cause)."""

from __future__ import annotations

import asyncio
import shutil

import asyncpg

from addax.domain.intake import Arrival, Source
from addax.store import audit, images
from addax.store.objects import FilesystemObjectStore
from addax.store.spool import Spool


async def release(
    pool: asyncpg.Pool, objects: FilesystemObjectStore, spool: Spool, image_id: int, *, by: str
) -> Arrival | None:
    """Move a rejected file into the spool and drop its rejection; None if it is not a rejected file.

    The caller delivers the returned arrival to an ingestor. If anything fails before the
    transaction commits, the rejection stays as it was.
    """
    async with pool.acquire() as connection, connection.transaction():
        row = await images.delete_rejected(connection, image_id)
        if row is None:
            return None
        spool_id, partial = spool.new_partial()
        await asyncio.to_thread(shutil.copyfile, objects.path(row["original_key"]), partial)
        arrival = Arrival(
            id=spool_id,
            project_id=row["project_id"],
            source=Source(row["source"]),
            original_name=row["original_name"],
            upload_path=row["upload_path"] or "",
            account=row["upload_account"] or "reprocess",
            alerts=row["realtime"],
        )
        await audit.record(
            connection, actor=by, action="rejection.reprocess", target=str(image_id), reason=row["reject_reason"]
        )
        await asyncio.to_thread(spool.commit, partial, arrival)
    # The spool holds the file now; should it be refused again, the ingestor keeps a fresh copy.
    objects.path(row["original_key"]).unlink(missing_ok=True)
    return arrival


async def rejected_ids(pool: asyncpg.Pool, *, reason: str | None = None) -> list[int]:
    rows = await pool.fetch(
        "SELECT id FROM images WHERE stage = 'rejected' AND ($1::text IS NULL OR reject_reason = $1) ORDER BY id",
        reason,
    )
    return [int(row["id"]) for row in rows]
