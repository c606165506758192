"""Events (sequences) in PostgreSQL: each finished photo joins its camera's event, starts one, or joins two.

Photos finish in any order (several in flight, retries, other workers), so a photo may fall between two events
that it then connects: they are merged into one. A photo finished twice (its boxes replaced by an import)
is counted once.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from addax.domain.sequences import Evidence, Span, better, joins, widened


async def join_event(
    connection: asyncpg.Connection,
    *,
    image_id: int,
    project_id: int,
    camera_id: int,
    taken_at: datetime,
    gap_s: int,
    evidence: Evidence | None,
) -> int:
    """The event the photo belongs to, made, widened or merged, inside the caller's transaction."""
    # One camera's events change one photo at a time, whichever worker finishes it.
    await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended('addax-event', $1))", camera_id)
    counted_in = await connection.fetchval("SELECT event_id FROM images WHERE id = $1", image_id)
    rows = await connection.fetch(
        """SELECT id, started_at, ended_at, image_count, label::text, score, taxon, common_name, max_count
           FROM events
           WHERE camera_id = $1 AND (id = $4 OR (started_at - make_interval(secs => $3) <= $2
                                                 AND ended_at + make_interval(secs => $3) >= $2))
           ORDER BY started_at, id""",
        camera_id,
        taken_at,
        gap_s,
        counted_in,
    )
    touching = [row for row in rows if joins(Span(row["started_at"], row["ended_at"]), taken_at, gap_s)]
    if counted_in is not None and not any(row["id"] == counted_in for row in touching):
        await _leave(connection, counted_in)  # its time moved away from that event
        counted_in = None
    if not touching:
        event_id = await _start(connection, project_id, camera_id, taken_at, evidence)
    else:
        event_id = await _merge(connection, touching, taken_at, evidence, new_photo=counted_in is None)
    await connection.execute("UPDATE images SET event_id = $1 WHERE id = $2", event_id, image_id)
    return event_id


async def add_to_event(
    connection: asyncpg.Connection,
    *,
    image_id: int,
    project_id: int,
    camera_id: int,
    taken_at: datetime,
    event_id: int | None,
    evidence: Evidence | None,
) -> int:
    """A photo in no event yet put in the camera's event ``event_id`` (a new one when None or gone), whatever the
    project's gap: for events another server formed (a Camtrap DP package's eventID), inside the caller's
    transaction."""
    await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended('addax-event', $1))", camera_id)
    row = None
    if event_id is not None:
        row = await connection.fetchrow(
            """SELECT id, started_at, ended_at, image_count, label::text, score, taxon, common_name, max_count
               FROM events WHERE id = $1 AND camera_id = $2""",
            event_id,
            camera_id,
        )
    if row is None:
        event_id = await _start(connection, project_id, camera_id, taken_at, evidence)
    else:
        event_id = await _merge(connection, [row], taken_at, evidence, new_photo=True)
    await connection.execute("UPDATE images SET event_id = $1 WHERE id = $2", event_id, image_id)
    return event_id


async def _start(
    connection: asyncpg.Connection, project_id: int, camera_id: int, taken_at: datetime, evidence: Evidence | None
) -> int:
    return int(
        await connection.fetchval(
            """INSERT INTO events (project_id, camera_id, started_at, ended_at, image_count,
                   label, score, taxon, common_name, max_count)
               VALUES ($1, $2, $3, $3, 1, $4, $5, $6, $7, $8) RETURNING id""",
            project_id,
            camera_id,
            taken_at,
            *_columns(evidence),
        )
    )


async def _merge(
    connection: asyncpg.Connection,
    events: list[asyncpg.Record],
    taken_at: datetime,
    evidence: Evidence | None,
    *,
    new_photo: bool,
) -> int:
    """Fold the photo and every event it touches into the first of them."""
    keep, others = events[0], events[1:]
    span = widened(Span(keep["started_at"], keep["ended_at"]), taken_at)
    merged = evidence
    for row in events:
        span = Span(min(span.started_at, row["started_at"]), max(span.ended_at, row["ended_at"]))
        merged = better(merged, _evidence(row))
    count = sum(row["image_count"] for row in events) + (1 if new_photo else 0)
    if others:
        other_ids = [row["id"] for row in others]
        await connection.execute(
            "UPDATE images SET event_id = $1 WHERE event_id = ANY($2::bigint[])", keep["id"], other_ids
        )
        # What alerted about a merged event alerted about the whole: a rule must not alert for it again.
        await connection.execute(
            "UPDATE notifications SET event_id = $1 WHERE event_id = ANY($2::bigint[])", keep["id"], other_ids
        )
        await connection.execute("DELETE FROM events WHERE id = ANY($1::bigint[])", other_ids)
    await connection.execute(
        """UPDATE events SET started_at = $2, ended_at = $3, image_count = $4,
               label = $5, score = $6, taxon = $7, common_name = $8, max_count = $9, updated_at = now()
           WHERE id = $1""",
        keep["id"],
        span.started_at,
        span.ended_at,
        count,
        *_columns(merged),
    )
    return int(keep["id"])


async def _leave(connection: asyncpg.Connection, event_id: int) -> None:
    remaining = await connection.fetchval(
        "UPDATE events SET image_count = image_count - 1, updated_at = now() WHERE id = $1 RETURNING image_count",
        event_id,
    )
    if remaining is not None and remaining <= 0:
        await connection.execute("DELETE FROM events WHERE id = $1", event_id)


def _evidence(row: asyncpg.Record) -> Evidence | None:
    if row["label"] is None:
        return None
    return Evidence(row["label"], float(row["score"]), row["taxon"], row["common_name"], row["max_count"])


def _columns(evidence: Evidence | None) -> tuple[object, ...]:
    if evidence is None:
        return (None, None, None, None, 0)
    return (evidence.label, evidence.score, evidence.taxon, evidence.common_name, evidence.count)
