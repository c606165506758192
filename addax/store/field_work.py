"""Field work kept per camera, image and site: maintenance log, reference photos, tags, site groups.

Every function takes ``projects``, the projects where the caller may make this change (or read this), and
touches only rows of those projects: a camera, image, site or group of another project is ``NotInProject``,
the same answer as one that does not exist.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from addax.domain.field_work import MaintenanceKind, clean_note, clean_tag


class NotInProject(LookupError):
    """No such camera, image, site or group in the caller's projects."""


_CAMERA_IN = "SELECT 1 FROM cameras WHERE id = $1 AND project_id = ANY($2::bigint[])"


async def _require_camera(db: asyncpg.Pool | asyncpg.Connection, camera_id: int, projects: list[int]) -> None:
    if await db.fetchval(_CAMERA_IN, camera_id, projects) is None:
        raise NotInProject(f"camera {camera_id}")


async def add_maintenance(
    pool: asyncpg.Pool,
    camera_id: int,
    *,
    projects: list[int],
    done_on: date,
    kind: MaintenanceKind,
    note: str,
    user_id: int,
    email: str,
) -> int:
    entry_id = await pool.fetchval(
        """INSERT INTO camera_maintenance (camera_id, done_on, kind, note, done_by, done_by_email)
           SELECT id, $3, $4::maintenance_kind, $5, $6, $7 FROM cameras
           WHERE id = $1 AND project_id = ANY($2::bigint[]) RETURNING id""",
        camera_id,
        projects,
        done_on,
        str(kind),
        clean_note(note),
        user_id,
        email,
    )
    if entry_id is None:
        raise NotInProject(f"camera {camera_id}")
    return int(entry_id)


async def maintenance(pool: asyncpg.Pool, camera_id: int, *, projects: list[int]) -> list[dict[str, Any]]:
    """The camera's log, newest first."""
    rows = await pool.fetch(
        """SELECT m.id, m.done_on, m.kind::text, m.note, m.done_by_email, m.created_at
           FROM camera_maintenance m JOIN cameras c ON c.id = m.camera_id
           WHERE m.camera_id = $1 AND c.project_id = ANY($2::bigint[])
           ORDER BY m.done_on DESC, m.id DESC""",
        camera_id,
        projects,
    )
    return [dict(row) for row in rows]


async def add_reference_photo(
    pool: asyncpg.Pool,
    camera_id: int,
    *,
    projects: list[int],
    object_key: str,
    content_type: str,
    size_bytes: int,
    user_id: int,
) -> int:
    photo_id = await pool.fetchval(
        """INSERT INTO camera_reference_photos (camera_id, object_key, content_type, size_bytes, uploaded_by)
           SELECT id, $3, $4, $5, $6 FROM cameras WHERE id = $1 AND project_id = ANY($2::bigint[]) RETURNING id""",
        camera_id,
        projects,
        object_key,
        content_type,
        size_bytes,
        user_id,
    )
    if photo_id is None:
        raise NotInProject(f"camera {camera_id}")
    return int(photo_id)


async def reference_photo(pool: asyncpg.Pool, camera_id: int, *, projects: list[int]) -> dict[str, Any] | None:
    """The newest reference photo of the camera (None: none yet, or not the caller's camera)."""
    row = await pool.fetchrow(
        """SELECT r.id, r.object_key, r.content_type, r.size_bytes, r.uploaded_at, u.email AS uploaded_by
           FROM camera_reference_photos r JOIN cameras c ON c.id = r.camera_id
           LEFT JOIN users u ON u.id = r.uploaded_by
           WHERE r.camera_id = $1 AND c.project_id = ANY($2::bigint[]) ORDER BY r.id DESC LIMIT 1""",
        camera_id,
        projects,
    )
    return dict(row) if row is not None else None


async def camera_tags(pool: asyncpg.Pool, camera_id: int, *, projects: list[int]) -> list[str]:
    rows = await pool.fetch(
        """SELECT t.tag FROM camera_tags t JOIN cameras c ON c.id = t.camera_id
           WHERE t.camera_id = $1 AND c.project_id = ANY($2::bigint[]) ORDER BY t.tag""",
        camera_id,
        projects,
    )
    return [row["tag"] for row in rows]


async def tag_camera(pool: asyncpg.Pool, camera_id: int, text: str, *, projects: list[int]) -> str:
    tag = clean_tag(text)
    async with pool.acquire() as connection, connection.transaction():
        await _require_camera(connection, camera_id, projects)
        await connection.execute(
            "INSERT INTO camera_tags (camera_id, tag) VALUES ($1, $2) ON CONFLICT DO NOTHING", camera_id, tag
        )
    return tag


async def untag_camera(pool: asyncpg.Pool, camera_id: int, tag: str, *, projects: list[int]) -> None:
    await pool.execute(
        """DELETE FROM camera_tags t USING cameras c
           WHERE t.camera_id = $1 AND t.tag = $2 AND c.id = t.camera_id AND c.project_id = ANY($3::bigint[])""",
        camera_id,
        tag,
        projects,
    )


async def image_tags(pool: asyncpg.Pool, image_id: int, *, projects: list[int]) -> list[str]:
    rows = await pool.fetch(
        """SELECT t.tag FROM image_tags t JOIN images i ON i.id = t.image_id
           WHERE t.image_id = $1 AND i.project_id = ANY($2::bigint[]) ORDER BY t.tag""",
        image_id,
        projects,
    )
    return [row["tag"] for row in rows]


async def tag_image(pool: asyncpg.Pool, image_id: int, text: str, *, projects: list[int]) -> str:
    tag = clean_tag(text)
    added = await pool.fetchval(
        """WITH target AS (SELECT id FROM images WHERE id = $1 AND project_id = ANY($3::bigint[]))
           INSERT INTO image_tags (image_id, tag) SELECT id, $2 FROM target
           ON CONFLICT (image_id, tag) DO UPDATE SET tag = EXCLUDED.tag RETURNING image_id""",
        image_id,
        tag,
        projects,
    )
    if added is None:
        raise NotInProject(f"image {image_id}")
    return tag


async def untag_image(pool: asyncpg.Pool, image_id: int, tag: str, *, projects: list[int]) -> None:
    await pool.execute(
        """DELETE FROM image_tags t USING images i
           WHERE t.image_id = $1 AND t.tag = $2 AND i.id = t.image_id AND i.project_id = ANY($3::bigint[])""",
        image_id,
        tag,
        projects,
    )


async def site_groups(pool: asyncpg.Pool, *, projects: list[int]) -> list[dict[str, Any]]:
    """Each group with the ids and names of its sites."""
    rows = await pool.fetch(
        """SELECT g.id, g.project_id, g.name,
                  coalesce(array_agg(s.id ORDER BY s.name) FILTER (WHERE s.id IS NOT NULL), '{}') AS site_ids,
                  coalesce(array_agg(s.name ORDER BY s.name) FILTER (WHERE s.id IS NOT NULL), '{}') AS site_names
           FROM site_groups g LEFT JOIN site_group_members m ON m.group_id = g.id
           LEFT JOIN sites s ON s.id = m.site_id
           WHERE g.project_id = ANY($1::bigint[]) GROUP BY g.id ORDER BY g.project_id, g.name""",
        projects,
    )
    return [dict(row) | {"site_ids": list(row["site_ids"]), "site_names": list(row["site_names"])} for row in rows]


class DuplicateName(ValueError):
    """The project already has a site group of that name."""


async def create_site_group(pool: asyncpg.Pool, project_id: int, name: str, *, projects: list[int]) -> int:
    if project_id not in projects:
        raise NotInProject(f"project {project_id}")
    cleaned = " ".join(name.split())
    if not cleaned:
        raise DuplicateName("a site group needs a name")
    try:
        return int(
            await pool.fetchval(
                "INSERT INTO site_groups (project_id, name) VALUES ($1, $2) RETURNING id", project_id, cleaned
            )
        )
    except asyncpg.UniqueViolationError:
        raise DuplicateName(f"this project already has a site group called {cleaned!r}") from None


async def set_group_sites(pool: asyncpg.Pool, group_id: int, site_ids: list[int], *, projects: list[int]) -> None:
    """Make the group's members exactly these sites, all of the group's own project."""
    async with pool.acquire() as connection, connection.transaction():
        project_id = await connection.fetchval(
            "SELECT project_id FROM site_groups WHERE id = $1 AND project_id = ANY($2::bigint[]) FOR UPDATE",
            group_id,
            projects,
        )
        if project_id is None:
            raise NotInProject(f"site group {group_id}")
        wanted = set(site_ids)
        own = await connection.fetchval(
            "SELECT count(*) FROM sites WHERE id = ANY($1::bigint[]) AND project_id = $2", list(wanted), project_id
        )
        if own != len(wanted):
            raise NotInProject("a site that is not in the group's project")
        await connection.execute("DELETE FROM site_group_members WHERE group_id = $1", group_id)
        await connection.executemany(
            "INSERT INTO site_group_members (group_id, site_id) VALUES ($1, $2)",
            [(group_id, site_id) for site_id in sorted(wanted)],
        )


async def delete_site_group(pool: asyncpg.Pool, group_id: int, *, projects: list[int]) -> None:
    deleted = await pool.fetchval(
        "DELETE FROM site_groups WHERE id = $1 AND project_id = ANY($2::bigint[]) RETURNING id", group_id, projects
    )
    if deleted is None:
        raise NotInProject(f"site group {group_id}")
