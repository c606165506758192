"""What the alert rules need to know about a finished photo, and about what its site has seen before."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from addax.domain.alerts import SeenBox


@dataclass(frozen=True, slots=True)
class Photo:
    id: int
    project_id: int
    project: str
    camera_id: int | None
    camera: str
    site_id: int | None
    site: str | None
    event_id: int | None
    taken_at: datetime  # UTC (the arrival time when the photo has no time of its own)
    received_at: datetime
    utc_offset_minutes: int | None
    zone: str  # the camera's (else the project's) time zone, for a photo without an offset of its own
    boxes: tuple[SeenBox, ...]

    @property
    def local_time(self) -> datetime:
        """The camera's wall clock when it took the photo, with its offset."""
        if self.utc_offset_minutes is not None:
            return self.taken_at.astimezone(timezone(timedelta(minutes=self.utc_offset_minutes)))
        try:
            return self.taken_at.astimezone(ZoneInfo(self.zone))
        except (ZoneInfoNotFoundError, ValueError):
            return self.taken_at.astimezone(UTC)


async def take_pending(connection: asyncpg.Connection, limit: int) -> list[int]:
    """Finished live photos not yet matched, locked for the caller's transaction (other processes skip them)."""
    rows = await connection.fetch(
        "SELECT id FROM images WHERE alert_pending ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED", limit
    )
    return [int(row["id"]) for row in rows]


async def matched(connection: asyncpg.Connection, image_ids: Sequence[int]) -> None:
    await connection.execute("UPDATE images SET alert_pending = false WHERE id = ANY($1::bigint[])", list(image_ids))


async def photo(connection: asyncpg.Connection, image_id: int) -> Photo | None:
    row = await connection.fetchrow(
        """SELECT i.id, i.project_id, p.name AS project, i.camera_id, coalesce(c.name, 'unknown camera') AS camera,
                  i.site_id, s.name AS site, i.event_id, coalesce(i.taken_at, i.received_at) AS taken_at,
                  i.received_at, i.utc_offset_minutes, coalesce(c.timezone, p.timezone) AS zone,
                  p.detection_threshold
           FROM images i JOIN projects p ON p.id = i.project_id
                LEFT JOIN cameras c ON c.id = i.camera_id LEFT JOIN sites s ON s.id = i.site_id
           WHERE i.id = $1""",
        image_id,
    )
    if row is None:
        return None
    boxes = await connection.fetch(
        """SELECT d.label::text, d.score, d.bbox, c.taxon, c.common_name
           FROM detections d LEFT JOIN classifications c ON c.detection_id = d.id AND c.rank = 1
           WHERE d.image_id = $1 AND d.score >= $2
           ORDER BY d.index""",
        image_id,
        row["detection_threshold"],
    )
    return Photo(
        id=row["id"],
        project_id=row["project_id"],
        project=row["project"],
        camera_id=row["camera_id"],
        camera=row["camera"],
        site_id=row["site_id"],
        site=row["site"],
        event_id=row["event_id"],
        taken_at=row["taken_at"],
        received_at=row["received_at"],
        utc_offset_minutes=row["utc_offset_minutes"],
        zone=row["zone"],
        boxes=tuple(
            SeenBox(
                label=box["label"],
                score=float(box["score"]),
                bbox=(box["bbox"][0], box["bbox"][1], box["bbox"][2], box["bbox"][3]),
                taxon=box["taxon"],
                common_name=box["common_name"],
            )
            for box in boxes
        ),
    )


@dataclass(frozen=True, slots=True)
class PastEvent:
    label: str | None
    taxon: str | None
    common_name: str | None
    ended_at: datetime


async def site_history(
    connection: asyncpg.Connection,
    *,
    site_id: int | None,
    camera_id: int | None,
    since: datetime,
    before: datetime,
    excluding_event: int | None,
) -> list[PastEvent]:
    """The events seen at a site in a time window, but one: those of the cameras that were there, with a photo
    filed at the site (a camera that moved brings no history along). A photo of no site: its camera's."""
    rows = await connection.fetch(
        """SELECT e.label::text, e.taxon, e.common_name, e.ended_at FROM events e
           WHERE e.camera_id = ANY(
                   CASE WHEN $1::bigint IS NULL THEN ARRAY[$2::bigint]
                        ELSE ARRAY(SELECT DISTINCT camera_id FROM deployments WHERE site_id = $1) || ARRAY[$2::bigint]
                   END)
             AND e.ended_at >= $3 AND e.started_at < $4 AND e.id IS DISTINCT FROM $5
             AND ($1::bigint IS NULL OR EXISTS (SELECT 1 FROM images i WHERE i.event_id = e.id AND i.site_id = $1))""",
        site_id,
        camera_id,
        since,
        before,
        excluding_event,
    )
    return [PastEvent(row["label"], row["taxon"], row["common_name"], row["ended_at"]) for row in rows]
