"""What the dashboard's camera list and map read: each camera with its latest health report and where it stands,
sites with their last activity, and a camera's photos per day. Indexed reads only (by camera or project)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def camera_rows(pool: asyncpg.Pool, *, projects: list[int], camera_id: int | None = None) -> list[dict[str, Any]]:
    """Every camera of these projects with its site, position (its own GPS, else its site's) and latest report."""
    rows = await pool.fetch(
        """SELECT c.id, c.project_id, p.name AS project, c.name, c.identity, c.make, c.model, c.status::text,
                  c.last_seen_at, c.timezone, d.id AS deployment_id, s.id AS site_id, s.name AS site,
                  ST_Y(coalesce(c.last_location, s.location)::geometry) AS latitude,
                  ST_X(coalesce(c.last_location, s.location)::geometry) AS longitude,
                  h.report_date, h.battery_pct, h.signal_csq, h.sd_free_mb, h.sd_total_mb, h.temperature_c
           FROM cameras c JOIN projects p ON p.id = c.project_id
           LEFT JOIN deployments d ON d.camera_id = c.id AND d.ends_on IS NULL
           LEFT JOIN sites s ON s.id = d.site_id
           LEFT JOIN LATERAL (
               SELECT report_date, battery_pct, signal_csq, sd_free_mb, sd_total_mb, temperature_c
               FROM camera_health_reports WHERE camera_id = c.id ORDER BY report_date DESC LIMIT 1) h ON true
           WHERE c.project_id = ANY($1::bigint[]) AND ($2::bigint IS NULL OR c.id = $2)
           ORDER BY c.id""",
        projects,
        camera_id,
    )
    return [dict(row) for row in rows]


async def site_points(pool: asyncpg.Pool, *, projects: list[int]) -> list[dict[str, Any]]:
    """Sites with a position, and when a camera standing there now was last heard from."""
    rows = await pool.fetch(
        """SELECT s.id, s.project_id, s.name, ST_Y(s.location::geometry) AS latitude,
                  ST_X(s.location::geometry) AS longitude,
                  (SELECT max(c.last_seen_at) FROM deployments d JOIN cameras c ON c.id = d.camera_id
                   WHERE d.site_id = s.id AND d.ends_on IS NULL) AS last_seen_at,
                  (SELECT count(*) FROM deployments d WHERE d.site_id = s.id AND d.ends_on IS NULL) AS cameras
           FROM sites s WHERE s.project_id = ANY($1::bigint[]) AND s.location IS NOT NULL ORDER BY s.id""",
        projects,
    )
    return [dict(row) for row in rows]


async def images_per_day(pool: asyncpg.Pool, camera_id: int, *, since: datetime) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        """SELECT (taken_at AT TIME ZONE 'UTC')::date AS day, count(*) AS images
           FROM images WHERE camera_id = $1 AND taken_at >= $2 AND stage <> 'rejected'
           GROUP BY 1 ORDER BY 1""",
        camera_id,
        since,
    )
    return [dict(row) for row in rows]


async def deployments_of(pool: asyncpg.Pool, camera_id: int) -> list[dict[str, Any]]:
    """The camera's deployments, newest first, with their site's name and photo count (counted through the
    camera's index on images, not per deployment: images has no index on deployment_id)."""
    rows = await pool.fetch(
        """WITH counts AS (SELECT deployment_id, count(*) AS images FROM images
                           WHERE camera_id = $1 AND stage <> 'rejected' GROUP BY deployment_id)
           SELECT d.id, d.site_id, s.name AS site, d.starts_on, d.ends_on, coalesce(n.images, 0) AS images
           FROM deployments d LEFT JOIN sites s ON s.id = d.site_id LEFT JOIN counts n ON n.deployment_id = d.id
           WHERE d.camera_id = $1 ORDER BY d.starts_on DESC, d.id DESC""",
        camera_id,
    )
    return [dict(row) for row in rows]
