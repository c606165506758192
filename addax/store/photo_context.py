"""What the image page shows around one photo: its camera, site and deployment, its sequence, its neighbours.

Every query on images filters by project first and walks an index (images_event, images_project_received).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class Place:
    camera_id: int | None = None
    camera_name: str | None = None
    site_id: int | None = None
    site_name: str | None = None
    deployment_id: int | None = None
    deployment_starts: date | None = None
    deployment_ends: date | None = None


@dataclass(frozen=True, slots=True)
class Neighbours:
    previous: int | None = None  # the project's photo before this one, by id
    next: int | None = None
    sequence: list[tuple[int, datetime | None]] = field(default_factory=list)  # (id, taken_at) of its event


async def place(db: asyncpg.Pool, *, camera_id: int | None, site_id: int | None, deployment_id: int | None) -> Place:
    row = await db.fetchrow(
        """SELECT (SELECT name FROM cameras WHERE id = $1) AS camera_name,
                  (SELECT name FROM sites WHERE id = $2) AS site_name,
                  d.starts_on, d.ends_on
           FROM (SELECT 1) one LEFT JOIN deployments d ON d.id = $3""",
        camera_id,
        site_id,
        deployment_id,
    )
    return Place(
        camera_id=camera_id,
        camera_name=row["camera_name"],
        site_id=site_id,
        site_name=row["site_name"],
        deployment_id=deployment_id,
        deployment_starts=row["starts_on"],
        deployment_ends=row["ends_on"],
    )


async def neighbours(db: asyncpg.Pool, *, project_id: int, image_id: int, event_id: int | None) -> Neighbours:
    previous = await db.fetchval(
        """SELECT id FROM images WHERE project_id = $1 AND id < $2 AND stage = 'done'
           ORDER BY id DESC LIMIT 1""",
        project_id,
        image_id,
    )
    following = await db.fetchval(
        "SELECT id FROM images WHERE project_id = $1 AND id > $2 AND stage = 'done' ORDER BY id LIMIT 1",
        project_id,
        image_id,
    )
    sequence: list[tuple[int, datetime | None]] = []
    if event_id is not None:
        rows = await db.fetch(
            """SELECT id, taken_at FROM images WHERE event_id = $1 AND project_id = $2 AND stage = 'done'
               ORDER BY taken_at, id LIMIT 60""",
            event_id,
            project_id,
        )
        sequence = [(int(row["id"]), row["taken_at"]) for row in rows]
    return Neighbours(previous=previous, next=following, sequence=sequence)
