"""Figures the scheduled checks and reports read: camera states, counts per day, species per period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from addax.domain.alerts import CameraState, usual_gap
from addax.domain.species_report import ActiveSpan, SpeciesEvent

RHYTHM_SAMPLE = 50  # recent arrivals that make a camera's usual gap


async def camera_states(connection: asyncpg.Connection, project_id: int) -> list[CameraState]:
    """Each working camera of the project: its latest battery and SD card reading, when it last sent, and
    its own usual gap between photos."""
    rows = await connection.fetch(
        """SELECT c.id, c.name, c.last_seen_at, r.battery_pct,
                  CASE WHEN r.sd_total_mb > 0 THEN 100.0 * (r.sd_total_mb - r.sd_free_mb) / r.sd_total_mb END
                      AS sd_used_pct,
                  ARRAY(SELECT i.taken_at FROM images i
                        WHERE i.camera_id = c.id AND i.taken_at IS NOT NULL AND i.kind <> 'report'
                        ORDER BY i.taken_at DESC LIMIT $2) AS arrivals
           FROM cameras c
                LEFT JOIN LATERAL (SELECT battery_pct, sd_free_mb, sd_total_mb FROM camera_health_reports
                                   WHERE camera_id = c.id ORDER BY report_date DESC LIMIT 1) r ON true
           WHERE c.project_id = $1 AND c.status <> 'retired'
           ORDER BY c.name""",
        project_id,
        RHYTHM_SAMPLE,
    )
    return [
        CameraState(
            camera_id=row["id"],
            name=row["name"],
            battery_pct=row["battery_pct"],
            sd_used_pct=float(row["sd_used_pct"]) if row["sd_used_pct"] is not None else None,
            last_seen_at=row["last_seen_at"],
            usual_gap=usual_gap(sorted(row["arrivals"])),
        )
        for row in rows
    ]


async def images_per_camera(
    connection: asyncpg.Connection, project_id: int, since: datetime, until: datetime
) -> dict[str, int]:
    rows = await connection.fetch(
        """SELECT coalesce(c.name, 'unknown camera') AS camera, count(*) AS images
           FROM images i LEFT JOIN cameras c ON c.id = i.camera_id
           WHERE i.project_id = $1 AND i.received_at >= $2 AND i.received_at < $3 AND i.kind <> 'report'
           GROUP BY 1""",
        project_id,
        since,
        until,
    )
    return {row["camera"]: int(row["images"]) for row in rows}


async def last_image_at(connection: asyncpg.Connection, project_id: int) -> datetime | None:
    return await connection.fetchval(  # type: ignore[no-any-return]
        """SELECT received_at FROM images WHERE project_id = $1 AND kind <> 'report' ORDER BY id DESC LIMIT 1""",
        project_id,
    )


async def active_spans(connection: asyncpg.Connection, project_id: int) -> list[ActiveSpan]:
    rows = await connection.fetch(
        """SELECT d.camera_id, d.starts_on, d.ends_on, p.timezone FROM deployments d
           JOIN cameras c ON c.id = d.camera_id JOIN projects p ON p.id = c.project_id
           WHERE c.project_id = $1""",
        project_id,
    )
    spans = []
    for row in rows:
        start = datetime.combine(row["starts_on"], datetime.min.time())
        end = datetime.combine(row["ends_on"], datetime.max.time()) if row["ends_on"] else None
        spans.append(_span(row["camera_id"], start, end, row["timezone"]))
    return spans


def _span(camera_id: int, start: datetime, end: datetime | None, timezone: str) -> ActiveSpan:
    zone = ZoneInfo(timezone)
    return ActiveSpan(
        camera_id=camera_id,
        start=start.replace(tzinfo=zone),
        end=end.replace(tzinfo=zone) if end else None,
    )


async def species_events(
    connection: asyncpg.Connection, project_id: int, since: datetime, until: datetime
) -> list[SpeciesEvent]:
    """The events of the period that name a species, with their best photo."""
    rows = await connection.fetch(
        """SELECT e.taxon, e.common_name, e.camera_id, e.started_at, e.max_count, e.score,
                  (SELECT i.id FROM images i WHERE i.event_id = e.id AND i.thumbnail_key IS NOT NULL
                   ORDER BY i.id LIMIT 1) AS image_id
           FROM events e
           WHERE e.project_id = $1 AND e.started_at >= $2 AND e.started_at < $3 AND e.taxon IS NOT NULL
           ORDER BY e.started_at""",
        project_id,
        since,
        until,
    )
    return [
        SpeciesEvent(
            taxon=row["taxon"],
            common_name=row["common_name"],
            camera_id=row["camera_id"],
            started_at=row["started_at"],
            count=max(int(row["max_count"]), 1),
            image_id=row["image_id"],
            score=float(row["score"] or 0.0),
        )
        for row in rows
    ]


@dataclass(frozen=True, slots=True)
class DayFigures:
    photos: int
    events: dict[str, int]
    top_species: list[tuple[str, int]]


async def day_figures(connection: asyncpg.Connection, project_id: int, since: datetime, until: datetime) -> DayFigures:
    photos = await connection.fetchval(
        """SELECT count(*) FROM images WHERE project_id = $1 AND received_at >= $2 AND received_at < $3
             AND kind <> 'report' AND stage <> 'rejected'""",
        project_id,
        since,
        until,
    )
    labels = await connection.fetch(
        """SELECT label::text, count(*) AS events FROM events
           WHERE project_id = $1 AND started_at >= $2 AND started_at < $3 AND label IS NOT NULL GROUP BY 1""",
        project_id,
        since,
        until,
    )
    species = await connection.fetch(
        """SELECT coalesce(common_name, taxon) AS name, count(*) AS events FROM events
           WHERE project_id = $1 AND started_at >= $2 AND started_at < $3 AND taxon IS NOT NULL
           GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5""",
        project_id,
        since,
        until,
    )
    return DayFigures(
        photos=int(photos),
        events={row["label"]: int(row["events"]) for row in labels},
        top_species=[(row["name"], int(row["events"])) for row in species],
    )


async def failed_images(db: asyncpg.Connection | asyncpg.Pool) -> int:
    """Images failed for good and not retried yet (undelivered notifications are in the notification log)."""
    return int(await db.fetchval("SELECT count(*) FROM dead_letters WHERE retried_at IS NULL AND image_id IS NOT NULL"))


async def project_name(db: asyncpg.Connection | asyncpg.Pool, project_id: int) -> str:
    return str(await db.fetchval("SELECT name FROM projects WHERE id = $1", project_id))
