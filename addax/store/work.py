"""The pipeline's work queue is the images table: leases, guarded stage changes, retries and dead letters.

A worker *claims* a few images of one stage (``FOR UPDATE SKIP LOCKED``, so workers in other processes or on
other machines take different ones) and holds them under a lease it renews while it works. It moves an
image on only in the transaction that writes the stage's results, and only while the lease is its own
(:func:`advance`), so after a crash the lease runs out, another worker takes the image, and the results are
written once. Failures come back with a backoff (``retry_at``) or, after the last attempt, as ``failed``
with a row in ``dead_letters``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

WORK_CHANNEL = "addax_work"  # migration 006: notified with the stage whenever an image enters one
EVENT_CHANNEL = "addax_events"  # live events from any process, relayed to WebSocket clients


class LeaseLost(Exception):
    """The image is no longer ours (the lease ran out and another worker took it, or it was reset)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    project_id: int
    kind: str  # photo | video
    original_key: str
    camera_id: int | None
    taken_at: datetime | None
    attempts: int
    trace_id: UUID
    realtime: bool
    exif: dict[str, Any]
    received_at: datetime

    @property
    def seen_at(self) -> datetime:
        """When the camera took it, or when it arrived when the camera did not say."""
        return self.taken_at or self.received_at


_CLAIM = """
    UPDATE images SET claimed_by = $2, claimed_until = now() + make_interval(secs => $4)
    WHERE id IN (
        SELECT id FROM images
        WHERE stage = $1::image_stage AND kind IN ('photo', 'video')
          AND (claimed_until IS NULL OR claimed_until < now())
          AND (retry_at IS NULL OR retry_at <= now())
          AND id <> ALL($5::bigint[])  -- a lease of ours that ran out while we still work on it
        ORDER BY realtime DESC, id  -- what cameras send now goes before a backfill's backlog
        LIMIT $3
        FOR UPDATE SKIP LOCKED)
    RETURNING id, project_id, kind::text AS kind, original_key, camera_id, taken_at, attempts, trace_id, realtime, exif,
              received_at
"""


async def claim(
    pool: asyncpg.Pool, stage: str, worker: str, limit: int, lease_s: float, *, holding: Sequence[int] = ()
) -> list[Claimed]:
    """Up to ``limit`` images waiting in ``stage``, live ones first, then oldest first, leased to ``worker``;
    never one of ``holding`` (the worker's images in hand)."""
    rows = await pool.fetch(_CLAIM, stage, worker, limit, lease_s, list(holding))
    return sorted((Claimed(**_decoded(row)) for row in rows), key=lambda c: c.id)


def _decoded(row: asyncpg.Record) -> dict[str, Any]:
    found = dict(row)
    if isinstance(found["exif"], str):
        found["exif"] = json.loads(found["exif"])
    return found


async def renew(pool: asyncpg.Pool, worker: str, ids: Sequence[int], lease_s: float) -> None:
    await pool.execute(
        """UPDATE images SET claimed_until = now() + make_interval(secs => $3)
           WHERE id = ANY($2::bigint[]) AND claimed_by = $1""",
        worker,
        list(ids),
        lease_s,
    )


async def release_all(pool: asyncpg.Pool, worker: str) -> int:
    """Forget every lease of ``worker`` (its previous run ended without releasing them)."""
    result = await pool.execute(
        "UPDATE images SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1", worker
    )  # images_claimed (migration 006) finds them without reading the table
    return int(result.split()[-1])


async def release(pool: asyncpg.Pool, worker: str, image_id: int, *, retry_in_s: float = 0.0) -> None:
    """Give an image back uncounted (an outage, or the model is down), to be taken again after ``retry_in_s``."""
    await pool.execute(
        """UPDATE images SET claimed_by = NULL, claimed_until = NULL,
               retry_at = CASE WHEN $3::float8 > 0 THEN now() + make_interval(secs => $3::float8) END
           WHERE id = $1 AND claimed_by = $2""",
        image_id,
        worker,
        retry_in_s,
    )


async def advance(connection: asyncpg.Connection, image_id: int, worker: str, source: str, target: str) -> None:
    """Move a leased image on, inside the caller's transaction; :class:`LeaseLost` rolls it back."""
    moved = await connection.fetchval(
        """UPDATE images SET stage = $4::image_stage, claimed_by = NULL, claimed_until = NULL, retry_at = NULL,
               attempts = 0, last_error = NULL, updated_at = now(),
               processed_at = CASE WHEN $4 = 'done' THEN now() ELSE processed_at END
           WHERE id = $1 AND claimed_by = $2 AND stage = $3::image_stage
           RETURNING id""",
        image_id,
        worker,
        source,
        target,
    )
    if moved is None:
        raise LeaseLost(f"image {image_id} is no longer leased to {worker} in stage {source}")


@asynccontextmanager
async def advancing(
    pool: asyncpg.Pool, image_id: int, worker: str, source: str, target: str
) -> AsyncIterator[asyncpg.Connection]:
    """A transaction that writes a stage's results and then moves the image on (or rolls back)."""
    async with pool.acquire() as connection, connection.transaction():
        yield connection
        await advance(connection, image_id, worker, source, target)


async def retry_later(pool: asyncpg.Pool, worker: str, image_id: int, error: str, delay_s: float) -> int:
    """Count a failed attempt and come back after ``delay_s``; returns the attempts so far."""
    attempts = await pool.fetchval(
        """UPDATE images SET attempts = attempts + 1, last_error = $3, claimed_by = NULL, claimed_until = NULL,
               retry_at = now() + make_interval(secs => $4), updated_at = now()
           WHERE id = $1 AND claimed_by = $2
           RETURNING attempts""",
        image_id,
        worker,
        error,
        delay_s,
    )
    return int(attempts or 0)


async def give_up(pool: asyncpg.Pool, worker: str, image_id: int, stage_work: str, error: str) -> bool:
    """The last attempt failed: the image is ``failed``, blurred whole, and listed as a dead letter."""
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            """UPDATE images SET stage = 'failed', attempts = attempts + 1, last_error = $3, blur_all = true,
                   claimed_by = NULL, claimed_until = NULL, retry_at = NULL, updated_at = now()
               WHERE id = $1 AND claimed_by = $2
               RETURNING attempts, project_id""",
            image_id,
            worker,
            error,
        )
        if row is None:
            return False
        await connection.execute(
            "INSERT INTO dead_letters (image_id, stage, error, attempts) VALUES ($1, $2, $3, $4)",
            image_id,
            stage_work,
            error,
            row["attempts"],
        )
    return True


async def announce(connection: asyncpg.Connection, event: str, data: dict[str, Any]) -> None:
    """Publish a live event to every process (delivered only if the caller's transaction commits)."""
    payload = json.dumps({"type": event, "data": data}, default=str)
    await connection.execute("SELECT pg_notify($1, $2)", EVENT_CHANNEL, payload)


#: Where an image goes back to when its failed work is tried again.
RETRY_FROM = {"detect": "stored", "classify": "detected", "finish": "classified"}


async def dead_letters(
    pool: asyncpg.Pool,
    *,
    projects: Sequence[int],
    administered: Sequence[int] = (),
    user_id: int | None = None,
    everything: bool = False,
    letter: int | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Failed work not yet retried, newest first: the images of ``projects``, and the notifications that could
    not be delivered: one's own, those of the ``administered`` projects (not another user's private theft
    watch), or (``everything``, a server admin) all of them. ``letter``: only that one, if visible so."""
    rows = await pool.fetch(
        """SELECT d.id, d.image_id, d.notification_id, coalesce(i.project_id, n.project_id) AS project_id,
                  d.stage, d.error, d.attempts, d.created_at, i.original_name,
                  coalesce(i.camera_id, n.camera_id) AS camera_id, n.channel, n.recipient, n.subject
           FROM dead_letters d LEFT JOIN images i ON i.id = d.image_id
                LEFT JOIN notifications n ON n.id = d.notification_id
                LEFT JOIN alert_rules r ON r.id = n.rule_id
           WHERE d.retried_at IS NULL
             AND ((d.image_id IS NOT NULL AND i.project_id = ANY($1::bigint[]))
                  OR (d.notification_id IS NOT NULL
                      AND ($4 OR n.user_id = $3
                           OR (n.project_id = ANY($2::bigint[]) AND r.kind IS DISTINCT FROM 'theft_watch'))))
             AND ($6::bigint IS NULL OR d.id = $6)
           ORDER BY d.id DESC LIMIT $5""",
        list(projects),
        list(administered),
        user_id,
        everything,
        limit,
        letter,
    )
    return [dict(row) for row in rows]


async def retry_dead_letter(pool: asyncpg.Pool, letter_id: int) -> int | None:
    """Send a failed image back to the stage whose work failed; its image id, or None when not failed now."""
    async with pool.acquire() as connection, connection.transaction():
        letter = await connection.fetchrow(
            """SELECT image_id, stage FROM dead_letters
               WHERE id = $1 AND retried_at IS NULL AND image_id IS NOT NULL FOR UPDATE""",
            letter_id,
        )
        if letter is None:
            return None
        image_id = await retry_failed(connection, letter["image_id"], RETRY_FROM.get(letter["stage"], "stored"))
        if image_id is None:
            return None
        await connection.execute("UPDATE dead_letters SET retried_at = now() WHERE id = $1", letter_id)
        return image_id


async def retry_failed(connection: asyncpg.Connection, image_id: int, stage: str) -> int | None:
    """A failed image back into ``stage`` with a clean slate of attempts."""
    moved = await connection.fetchval(
        """UPDATE images SET stage = $2::image_stage, attempts = 0, retry_at = NULL, last_error = NULL,
               blur_all = false, claimed_by = NULL, claimed_until = NULL, updated_at = now()
           WHERE id = $1 AND stage = 'failed' RETURNING id""",
        image_id,
        stage,
    )
    return int(moved) if moved is not None else None


async def requeue(pool: asyncpg.Pool, *, stage: str, ids: Sequence[int] = ()) -> int:
    """Make images waiting in ``stage`` (or failed ones, back to where they failed) due now; how many."""
    if stage == "failed":
        async with pool.acquire() as connection, connection.transaction():
            letters = await connection.fetch(
                """UPDATE dead_letters SET retried_at = now()
                   WHERE retried_at IS NULL AND image_id IS NOT NULL
                     AND (cardinality($1::bigint[]) = 0 OR image_id = ANY($1::bigint[]))
                   RETURNING image_id, stage""",
                list(ids),
            )
            moved = 0
            for letter in letters:
                moved += (
                    await retry_failed(connection, letter["image_id"], RETRY_FROM.get(letter["stage"], "stored"))
                    is not None
                )
            return moved
    result = await pool.execute(
        """UPDATE images SET retry_at = NULL, attempts = 0,
               stage = stage  -- touching the stage notifies the workers
           WHERE stage = $1::image_stage AND (cardinality($2::bigint[]) = 0 OR id = ANY($2::bigint[]))
             AND (claimed_until IS NULL OR claimed_until < now())  -- not the ones in a worker's hands""",
        stage,
        list(ids),
    )
    return int(result.split()[-1])


async def figures(pool: asyncpg.Pool) -> dict[str, Any]:
    """For /metrics: images waiting in each working stage (and failed), and seconds from arrival to done of the
    last 1,000 processed, open dead letters, undelivered notifications; all read through partial indexes, never
    the whole table."""
    stages = await pool.fetch(
        "SELECT stage::text, count(*) AS n FROM images WHERE stage NOT IN ('done', 'rejected') GROUP BY stage"
    )
    latency = await pool.fetchrow(
        """SELECT count(*) AS n,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95
           FROM (SELECT extract(epoch FROM processed_at - received_at) AS seconds FROM images
                 WHERE processed_at IS NOT NULL ORDER BY processed_at DESC LIMIT 1000) recent"""
    )
    open_letters = await pool.fetchval("SELECT count(*) FROM dead_letters WHERE retried_at IS NULL")
    pending = await pool.fetchval("SELECT count(*) FROM notifications WHERE status = 'pending'")
    waiting = {"received": 0, "stored": 0, "detected": 0, "classified": 0, "failed": 0}
    return {
        "stages": waiting | {row["stage"]: int(row["n"]) for row in stages},
        "latency_p50_s": latency["p50"],
        "latency_p95_s": latency["p95"],
        "dead_letters": int(open_letters),
        "notifications_pending": int(pending),
    }
