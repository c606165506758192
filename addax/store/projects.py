"""A project's settings as the ingestor needs them."""

from __future__ import annotations

import asyncpg

from addax.domain.filing import IntakeRules


async def intake_rules(db: asyncpg.Connection | asyncpg.Pool, project_id: int) -> IntakeRules:
    row = await db.fetchrow(
        "SELECT id AS project_id, timezone, require_camera_registration, require_timestamp, site_radius_m"
        " FROM projects WHERE id = $1",
        project_id,
    )
    if row is None:
        raise LookupError(f"project {project_id} does not exist")
    return IntakeRules(**dict(row))
