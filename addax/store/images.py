"""Image rows: stored and rejected files, lookups by hash, and the queries the API pages through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class NewImage:
    project_id: int
    kind: str
    sha256: bytes
    original_name: str
    source: str
    upload_account: str
    size_bytes: int
    original_key: str
    camera_id: int | None = None
    deployment_id: int | None = None
    site_id: int | None = None
    width: int | None = None
    height: int | None = None
    taken_at: datetime | None = None
    utc_offset_minutes: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    exif: dict[str, Any] | None = None
    stage: str = "stored"
    reject_reason: str | None = None
    realtime: bool = True  # False for backfills: no real-time alerts


async def find_by_hash(db: asyncpg.Connection | asyncpg.Pool, project_id: int, sha256: bytes) -> int | None:
    found = await db.fetchval("SELECT id FROM images WHERE project_id = $1 AND sha256 = $2", project_id, sha256)
    return int(found) if found is not None else None


async def insert(connection: asyncpg.Connection, image: NewImage) -> tuple[int, bool]:
    """Insert once per (project, sha256): returns (id, created). A second arrival of the same bytes is a no-op."""
    row = await connection.fetchrow(
        """INSERT INTO images (project_id, camera_id, deployment_id, site_id, kind, stage, reject_reason, sha256,
               original_name, source, upload_account, size_bytes, width, height, taken_at, utc_offset_minutes,
               location, exif, original_key, realtime)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                   CASE WHEN $17::float8 IS NULL THEN NULL
                        ELSE ST_SetSRID(ST_MakePoint($18, $17), 4326)::geography END, $19, $20, $21)
           ON CONFLICT (project_id, sha256) DO NOTHING
           RETURNING id""",
        image.project_id,
        image.camera_id,
        image.deployment_id,
        image.site_id,
        image.kind,
        image.stage,
        image.reject_reason,
        image.sha256,
        image.original_name,
        image.source,
        image.upload_account,
        image.size_bytes,
        image.width,
        image.height,
        image.taken_at,
        image.utc_offset_minutes,
        image.latitude,
        image.longitude,
        image.exif or {},
        image.original_key,
        image.realtime,
    )
    if row is not None:
        return int(row["id"]), True
    existing = await find_by_hash(connection, image.project_id, image.sha256)
    assert existing is not None
    return existing, False


async def delete_rejected(connection: asyncpg.Connection, image_id: int) -> asyncpg.Record | None:
    """Take a rejected file's row away so that it can go through the ingestor again."""
    return await connection.fetchrow(
        "DELETE FROM images WHERE id = $1 AND stage = 'rejected'"
        " RETURNING id, project_id, original_name, source, upload_account, original_key, reject_reason,"
        " exif->>'upload_path' AS upload_path, realtime",
        image_id,
    )


async def lock_content(connection: asyncpg.Connection, project_id: int, sha256: bytes) -> None:
    """Until the transaction ends, nobody else ingests these bytes into this project (two-int lock keys)."""
    await connection.execute(
        "SELECT pg_advisory_xact_lock($1::int, $2::int)", project_id, int.from_bytes(sha256[:4], "big", signed=True)
    )
