"""Sending a rejected file back through the ingestor (after an admin fixed the cause)."""

from __future__ import annotations

import asyncpg

from addax.domain.intake import Arrival, Origin, Source
from addax.store import audit, images
from addax.store.objects import ObjectStore
from addax.store.receiving import Receiver


async def release(
    pool: asyncpg.Pool, objects: ObjectStore, receiver: Receiver, image_id: int, *, by: str
) -> Arrival | None:
    """Move a rejected file into the spool, drop its rejection and deliver it; None if it is not a rejected file.

    The spool entry is made durable inside the transaction that drops the rejection: a crash before the
    commit leaves both, and the ingestor then finds the rejection's row and discards the copy (a
    duplicate); after the commit the spool holds the only copy the ingestor needs.
    """
    arrival = None
    try:
        async with pool.acquire() as connection, connection.transaction():
            row = await images.delete_rejected(connection, image_id)
            if row is None:
                return None
            key = row["original_key"]
            size = await objects.size(key)
            partial = await receiver.take_chunks(objects.stream(key), size=size)
            origin = Origin(
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
            arrival = await receiver.persist(partial, origin)
    except BaseException:
        if arrival is not None:  # the rejection stays; a sweep finds the copy a duplicate of it and drops it
            receiver.spool.release(arrival)
        raise
    # Should it be refused again, the ingestor keeps a fresh copy under the same key.
    await objects.delete(key)
    await receiver.deliver(arrival)
    return arrival


async def rejected_ids(pool: asyncpg.Pool, *, reason: str | None = None) -> list[int]:
    rows = await pool.fetch(
        "SELECT id FROM images WHERE stage = 'rejected' AND ($1::text IS NULL OR reject_reason = $1) ORDER BY id",
        reason,
    )
    return [int(row["id"]) for row in rows]
