"""The gallery's queries: done photos of the viewer's projects, newest first, with keyset pagination.

Every filter reads the photo's own row (labels, taxa, best_score and verified are kept there by migration 008's
trigger and by verification), so a page walks the (project_id, id) index backwards, or the GIN index on taxa
for a species, and never scans the whole images table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class Filters:
    projects: list[int]
    site: int | None = None
    camera: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    label: str | None = None  # animal | person | vehicle | blank (no box)
    species: str | None = None  # a taxon, as a model or a person named it
    min_score: float | None = None
    verified: bool | None = None


GALLERY_PAGE = """
SELECT i.id, i.project_id, i.camera_id, i.site_id, i.event_id, i.kind::text, i.taken_at, i.utc_offset_minutes,
       i.received_at, i.labels, i.taxa, i.best_score, i.verified, i.thumbnail_key IS NOT NULL AS has_thumbnail,
       c.name AS camera, s.name AS site, e.image_count AS event_photos
FROM images i
LEFT JOIN cameras c ON c.id = i.camera_id
LEFT JOIN sites s ON s.id = i.site_id
LEFT JOIN events e ON e.id = i.event_id
WHERE i.project_id = ANY($1::bigint[]) AND i.stage = 'done'
  AND ($2::bigint IS NULL OR i.site_id = $2)
  AND ($3::bigint IS NULL OR i.camera_id = $3)
  AND ($4::timestamptz IS NULL OR i.taken_at >= $4)
  AND ($5::timestamptz IS NULL OR i.taken_at < $5)
  AND ($6::text IS NULL OR ($6 = 'blank' AND i.labels = '{}') OR i.labels @> ARRAY[$6])
  AND ($7::text IS NULL OR i.taxa @> ARRAY[$7])
  AND ($8::real IS NULL OR i.best_score >= $8)
  AND ($9::boolean IS NULL OR i.verified = $9)
  AND ($10::bigint IS NULL OR i.id < $10)
ORDER BY i.id DESC
LIMIT $11
"""


async def page(db: asyncpg.Pool, filters: Filters, *, before_id: int | None, limit: int) -> list[dict[str, Any]]:
    """The next ``limit`` photos after ``before_id`` (None: the newest).

    Planned for its actual filters every time: the one statement serves every combination of filters, and a
    generic plan for it would scan the whole table."""
    async with db.acquire() as connection, connection.transaction():
        await connection.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        rows = await connection.fetch(
            GALLERY_PAGE,
            filters.projects,
            filters.site,
            filters.camera,
            filters.since,
            filters.until,
            filters.label,
            filters.species,
            filters.min_score,
            filters.verified,
            before_id,
            limit,
        )
    return [dict(row) for row in rows]


async def species_names(db: asyncpg.Pool, projects: list[int]) -> dict[str, str]:
    """Every species the projects have seen (a model's events or a person's verification): taxon -> common name.

    Read from the events' index and the verified photos' index, never from every photo."""
    rows = await db.fetch(
        """SELECT taxon, min(common_name) AS common_name FROM (
               SELECT taxon, common_name FROM events WHERE project_id = ANY($1::bigint[]) AND taxon IS NOT NULL
               UNION ALL
               SELECT box->>'taxon', box->>'common_name'
               FROM images i JOIN verifications v ON v.image_id = i.id, jsonb_array_elements(v.boxes) AS box
               WHERE i.project_id = ANY($1::bigint[]) AND i.verified AND box->>'taxon' IS NOT NULL
           ) AS seen GROUP BY taxon ORDER BY min(coalesce(common_name, taxon))""",
        projects,
    )
    return {row["taxon"]: row["common_name"] or row["taxon"] for row in rows}


async def places(db: asyncpg.Pool, projects: list[int]) -> tuple[dict[int, str], dict[int, str]]:
    """The projects' sites and cameras by id, for the filter menus."""
    sites = await db.fetch("SELECT id, name FROM sites WHERE project_id = ANY($1::bigint[]) ORDER BY name", projects)
    cameras = await db.fetch(
        "SELECT id, name FROM cameras WHERE project_id = ANY($1::bigint[]) ORDER BY name", projects
    )
    return {row["id"]: row["name"] for row in sites}, {row["id"]: row["name"] for row in cameras}
