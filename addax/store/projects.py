"""A project's settings as the ingestor needs them."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    id: int
    timezone: str
    require_camera_registration: bool
    require_timestamp: bool
    site_radius_m: float


async def intake_settings(connection: asyncpg.Connection, project_id: int) -> IntakeSettings:
    row = await connection.fetchrow(
        "SELECT id, timezone, require_camera_registration, require_timestamp, site_radius_m FROM projects"
        " WHERE id = $1",
        project_id,
    )
    if row is None:
        raise LookupError(f"project {project_id} does not exist")
    return IntakeSettings(**dict(row))
