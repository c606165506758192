"""Read queries behind the API: images with filters and keyset pagination, cameras, sites, deployments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import asyncpg

from addax.domain.privacy import PRIVACY_MIN_SCORE
from addax.store import verifications

_IMAGE_COLUMNS = """i.id, i.project_id, i.camera_id, i.site_id, i.deployment_id, i.kind::text, i.stage::text,
    i.reject_reason, encode(i.sha256, 'hex') AS sha256, i.original_name, i.source, i.upload_account, i.size_bytes,
    i.width, i.height, i.taken_at, i.utc_offset_minutes, ST_Y(i.location::geometry) AS latitude,
    ST_X(i.location::geometry) AS longitude, i.received_at, i.labels, i.taxa, i.verified"""


async def images(
    db: asyncpg.Pool,
    *,
    projects: list[int],
    camera: int | None = None,
    site: int | None = None,
    stage: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
    label: str | None = None,
    species: str | None = None,
    verified: bool | None = None,
) -> list[dict[str, Any]]:
    """Newest first; pass the last id seen as ``before_id`` for the next page. Label and species are what the
    photo shows by its verification, else by the models (the photo's summary columns)."""
    rows = await db.fetch(
        f"""SELECT {_IMAGE_COLUMNS} FROM images i
            WHERE i.project_id = ANY($1::bigint[])
              AND ($2::bigint IS NULL OR i.camera_id = $2) AND ($3::bigint IS NULL OR i.site_id = $3)
              AND ($4::text IS NULL OR i.stage::text = $4)
              AND ($5::timestamptz IS NULL OR i.taken_at >= $5) AND ($6::timestamptz IS NULL OR i.taken_at < $6)
              AND ($7::bigint IS NULL OR i.id < $7)
              AND ($9::text IS NULL OR ($9 = 'blank' AND i.labels = '{{}}') OR i.labels @> ARRAY[$9])
              AND ($10::text IS NULL OR i.taxa @> ARRAY[$10])
              AND ($11::boolean IS NULL OR i.verified = $11)
            ORDER BY i.id DESC LIMIT $8""",
        projects,
        camera,
        site,
        stage,
        since,
        until,
        before_id,
        limit,
        label,
        species,
        verified,
    )
    return [dict(row) for row in rows]


async def image(db: asyncpg.Pool, image_id: int) -> dict[str, Any] | None:
    row = await db.fetchrow(
        f"""SELECT {_IMAGE_COLUMNS}, i.exif, i.original_key, i.thumbnail_key, i.annotated_key, i.event_id,
                   i.last_error, i.processed_at, i.trace_id, i.people_unblurred, i.best_score
            FROM images i WHERE i.id = $1""",
        image_id,
    )
    if row is None:
        return None
    found = dict(row)
    detections = await db.fetch(
        """SELECT id, index, label::text, score, bbox, model, frame_offset_s FROM detections
           WHERE image_id = $1 ORDER BY index""",
        image_id,
    )
    found["detections"] = [dict(d) | {"bbox": list(d["bbox"])} for d in detections]
    classifications = await db.fetch(
        """SELECT d.index AS detection, c.rank, c.taxon, c.common_name, c.score, c.model
           FROM classifications c JOIN detections d ON d.id = c.detection_id WHERE d.image_id = $1
           ORDER BY d.index, c.model, c.rank""",
        image_id,
    )
    found["classifications"] = [dict(c) for c in classifications]
    found["verification"] = await verifications.get(db, image_id)
    return found


async def shows_people(db: asyncpg.Pool, image_id: int) -> bool:
    """Whether the original may show someone: a person or vehicle box (the detector's, or a person's verification),
    a frame blurred whole, or not looked at by the detector (yet, or ever: a rejected photo)."""
    return bool(
        await db.fetchval(
            """SELECT i.blur_all OR i.people_unblurred OR i.stage <> 'done' OR i.labels && ARRAY['person', 'vehicle']
                   OR EXISTS (
                   SELECT 1 FROM detections d
                   WHERE d.image_id = i.id AND d.label IN ('person', 'vehicle') AND d.score >= $2)
               FROM images i WHERE i.id = $1""",
            image_id,
            PRIVACY_MIN_SCORE,
        )
    )


async def cameras(db: asyncpg.Pool, *, projects: list[int], camera_id: int | None = None) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """SELECT c.id, c.project_id, c.identity, c.identity_kind, c.name, c.make, c.model, c.profile,
                  c.status::text, c.last_seen_at, c.created_at,
                  ST_Y(c.last_location::geometry) AS latitude, ST_X(c.last_location::geometry) AS longitude,
                  d.id AS deployment_id, d.site_id,
                  (SELECT count(*) FROM images i WHERE i.camera_id = c.id AND i.stage <> 'rejected') AS images
           FROM cameras c LEFT JOIN deployments d ON d.camera_id = c.id AND d.ends_on IS NULL
           WHERE c.project_id = ANY($1::bigint[]) AND ($2::bigint IS NULL OR c.id = $2)
           ORDER BY c.id""",
        projects,
        camera_id,
    )
    return [dict(row) for row in rows]


async def camera_health(db: asyncpg.Pool, camera_id: int, *, limit: int = 90) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """SELECT report_date, signal_csq, temperature_c, battery_pct, sd_free_mb, sd_total_mb,
                  ST_Y(location::geometry) AS latitude, ST_X(location::geometry) AS longitude,
                  pictures_taken, pictures_sent, reported_at, raw, received_at
           FROM camera_health_reports WHERE camera_id = $1 ORDER BY report_date DESC LIMIT $2""",
        camera_id,
        limit,
    )
    return [dict(row) for row in rows]


async def sites(db: asyncpg.Pool, *, projects: list[int]) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """SELECT s.id, s.project_id, s.name, ST_Y(s.location::geometry) AS latitude,
                  ST_X(s.location::geometry) AS longitude, s.created_at,
                  (SELECT count(*) FROM deployments d WHERE d.site_id = s.id) AS deployments
           FROM sites s WHERE s.project_id = ANY($1::bigint[]) ORDER BY s.id""",
        projects,
    )
    return [dict(row) for row in rows]


async def deployments(db: asyncpg.Pool, *, projects: list[int], camera: int | None = None) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """SELECT d.id, d.camera_id, c.project_id, d.site_id, d.starts_on, d.ends_on,
                  ST_Y(d.location::geometry) AS latitude, ST_X(d.location::geometry) AS longitude,
                  (SELECT count(*) FROM images i WHERE i.deployment_id = d.id) AS images
           FROM deployments d JOIN cameras c ON c.id = d.camera_id
           WHERE c.project_id = ANY($1::bigint[]) AND ($2::bigint IS NULL OR d.camera_id = $2)
           ORDER BY d.camera_id, d.starts_on""",
        projects,
        camera,
    )
    return [dict(row) for row in rows]


async def camera_updates(db: asyncpg.Pool, *, projects: list[int], limit: int = 100) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """SELECT u.id, u.camera_id, c.project_id, u.kind, u.details, u.created_at, u.resolved_at
           FROM camera_updates u JOIN cameras c ON c.id = u.camera_id
           WHERE c.project_id = ANY($1::bigint[]) ORDER BY u.id DESC LIMIT $2""",
        projects,
        limit,
    )
    return [dict(row) for row in rows]


async def rejections(
    db: asyncpg.Pool, *, projects: list[int], reason: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        f"""SELECT {_IMAGE_COLUMNS}, i.exif->>'reject_detail' AS detail FROM images i
            WHERE i.stage = 'rejected' AND i.project_id = ANY($1::bigint[])
              AND ($2::text IS NULL OR i.reject_reason = $2)
            ORDER BY i.id DESC LIMIT $3""",
        projects,
        reason,
        limit,
    )
    return [dict(row) for row in rows]


class Owned(StrEnum):
    """Things that belong to a project, by the query that finds their project."""

    SITE = "SELECT project_id FROM sites WHERE id = $1"
    DEPLOYMENT = "SELECT c.project_id FROM deployments d JOIN cameras c ON c.id = d.camera_id WHERE d.id = $1"
    CAMERA_UPDATE = "SELECT c.project_id FROM camera_updates u JOIN cameras c ON c.id = u.camera_id WHERE u.id = $1"
    REJECTION = "SELECT project_id FROM images WHERE id = $1 AND stage = 'rejected'"
    UPLOAD_ACCOUNT = "SELECT project_id FROM upload_accounts WHERE id = $1"
    DEVICE_TOKEN = "SELECT project_id FROM device_tokens WHERE id = $1"
    DEAD_LETTER = """SELECT coalesce(i.project_id, n.project_id) FROM dead_letters d
                     LEFT JOIN images i ON i.id = d.image_id LEFT JOIN notifications n ON n.id = d.notification_id
                     WHERE d.id = $1"""


async def project_of(db: asyncpg.Pool, thing: Owned, thing_id: int) -> int | None:
    """The project that a thing of this kind belongs to (None: no such thing)."""
    found = await db.fetchval(thing.value, thing_id)
    return int(found) if found is not None else None


@dataclass(frozen=True, slots=True)
class ImageKeys:
    project_id: int
    kind: str
    original_key: str | None
    thumbnail_key: str | None
    annotated_key: str | None
    people_unblurred: bool  # the copies miss someone a person marked: serve them blurred whole


async def image_keys(db: asyncpg.Pool, image_id: int) -> ImageKeys | None:
    row = await db.fetchrow(
        """SELECT project_id, kind::text, original_key, thumbnail_key, annotated_key, people_unblurred
           FROM images WHERE id = $1""",
        image_id,
    )
    return ImageKeys(**dict(row)) if row is not None else None
