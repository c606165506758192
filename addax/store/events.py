"""Events (sequences) in PostgreSQL: each finished photo joins its camera's event or starts one."""

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
    """The event the photo belongs to, made or widened, inside the caller's transaction."""
    # One camera's events change one photo at a time, whichever worker finishes it.
    await connection.execute("SELECT pg_advisory_xact_lock(hashtextextended('addax-event', $1))", camera_id)
    rows = await connection.fetch(
        """SELECT id, started_at, ended_at, label::text, score, taxon, common_name, max_count FROM events
           WHERE camera_id = $1
             AND started_at - make_interval(secs => $3) <= $2 AND ended_at + make_interval(secs => $3) >= $2
           ORDER BY least(abs(extract(epoch FROM started_at - $2)), abs(extract(epoch FROM ended_at - $2)))
           LIMIT 1""",
        camera_id,
        taken_at,
        gap_s,
    )
    found = next((row for row in rows if joins(Span(row["started_at"], row["ended_at"]), taken_at, gap_s)), None)
    if found is None:
        event_id = await _start(connection, project_id, camera_id, taken_at, evidence)
    else:
        event_id = await _widen(connection, found, taken_at, evidence)
    await connection.execute("UPDATE images SET event_id = $1 WHERE id = $2", event_id, image_id)
    return event_id


async def _start(
    connection: asyncpg.Connection,
    project_id: int,
    camera_id: int,
    taken_at: datetime,
    evidence: Evidence | None,
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


async def _widen(
    connection: asyncpg.Connection,
    found: asyncpg.Record,
    taken_at: datetime,
    evidence: Evidence | None,
) -> int:
    current = (
        Evidence(found["label"], float(found["score"]), found["taxon"], found["common_name"], found["max_count"])
        if found["label"] is not None
        else None
    )
    span = widened(Span(found["started_at"], found["ended_at"]), taken_at)
    await connection.execute(
        """UPDATE events SET started_at = $2, ended_at = $3, image_count = image_count + 1,
               label = $4, score = $5, taxon = $6, common_name = $7, max_count = $8, updated_at = now()
           WHERE id = $1""",
        found["id"],
        span.started_at,
        span.ended_at,
        *_columns(better(current, evidence)),
    )
    return int(found["id"])


def _columns(evidence: Evidence | None) -> tuple[object, ...]:
    if evidence is None:
        return (None, None, None, None, 0)
    return (evidence.label, evidence.score, evidence.taxon, evidence.common_name, evidence.count)
