"""Admins' corrections to where cameras stand: manual placement, site names, reassignment, "not moved"."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from addax.domain.sites import Point, Site, place_manually
from addax.store import audit, cameras


class PlacementError(Exception):
    """The correction does not fit the data (site of another project, not a move ...)."""


async def place(pool: asyncpg.Pool, camera_id: int, site_id: int, starts: str, *, by: str) -> dict[str, Any]:
    try:
        on = date.fromisoformat(starts)
    except ValueError:
        raise PlacementError(f"'from' must be a date like 2026-05-01, got {starts!r}") from None
    async with pool.acquire() as connection, connection.transaction():
        await _lock_camera(connection, camera_id)
        camera_row = await connection.fetchrow(
            "SELECT id, project_id, name, status::text, timezone FROM cameras WHERE id = $1", camera_id
        )
        site = await connection.fetchrow(
            "SELECT id, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon FROM sites"
            " WHERE id = $1 AND project_id = $2 AND location IS NOT NULL",
            site_id,
            camera_row["project_id"],
        )
        if site is None:
            raise PlacementError(f"site {site_id} is not a located site of this camera's project")
        camera = cameras.Camera(**dict(camera_row))
        decision = place_manually(
            await cameras.placement(connection, camera_id), Site(site["id"], Point(site["lat"], site["lon"])), on
        )
        await cameras.apply(connection, camera, decision)
        await audit.record(
            connection,
            actor=by,
            action="camera.place",
            target=str(camera_id),
            site_id=site_id,
            starts_on=on.isoformat(),
        )
    return {"camera_id": camera_id, "site_id": site_id, "from": on.isoformat()}


async def rename_site(pool: asyncpg.Pool, site_id: int, name: str, *, by: str) -> None:
    async with pool.acquire() as connection, connection.transaction():
        try:
            old = await connection.fetchval(
                "UPDATE sites s SET name = $2 FROM sites o WHERE s.id = $1 AND o.id = s.id RETURNING o.name",
                site_id,
                name,
            )
        except asyncpg.UniqueViolationError:
            raise PlacementError(f"another site of this project is already called {name!r}") from None
        await audit.record(connection, actor=by, action="site.rename", target=str(site_id), old=old, new=name)


async def reassign(pool: asyncpg.Pool, deployment_id: int, site_id: int, *, by: str) -> int:
    async with pool.acquire() as connection, connection.transaction():
        same_project = await connection.fetchval(
            """SELECT s.project_id = c.project_id FROM deployments d JOIN cameras c ON c.id = d.camera_id,
                      sites s WHERE d.id = $1 AND s.id = $2""",
            deployment_id,
            site_id,
        )
        if not same_project:
            raise PlacementError(f"site {site_id} is not in this deployment's project")
        await connection.execute("UPDATE deployments SET site_id = $2 WHERE id = $1", deployment_id, site_id)
        result = await connection.execute(
            "UPDATE images SET site_id = $2 WHERE deployment_id = $1", deployment_id, site_id
        )
        camera_id = await connection.fetchval("SELECT camera_id FROM deployments WHERE id = $1", deployment_id)
        await cameras.add_update(
            connection, camera_id, "reassigned", deployment_id=deployment_id, site_id=site_id, by=by
        )
        await audit.record(
            connection, actor=by, action="deployment.reassign", target=str(deployment_id), site_id=site_id
        )
    return int(result.split()[-1])


async def undo_move(pool: asyncpg.Pool, update_id: int, *, by: str) -> dict[str, Any]:
    """The camera did not move: fold the deployment that this move opened back into the one it closed."""
    async with pool.acquire() as connection, connection.transaction():
        update = await connection.fetchrow(
            "SELECT camera_id, kind, details, resolved_at FROM camera_updates WHERE id = $1 FOR UPDATE", update_id
        )
        if update["kind"] != "moved" or update["resolved_at"] is not None:
            raise PlacementError("only an unresolved 'moved' update can be undone")
        camera_id = update["camera_id"]
        await _lock_camera(connection, camera_id)
        opened, closed = update["details"].get("opened_deployment_id"), update["details"].get("closed_deployment_id")
        still_current = await connection.fetchval(
            "SELECT ends_on IS NULL FROM deployments WHERE id = $1 AND camera_id = $2", opened, camera_id
        )
        previous = await connection.fetchrow("SELECT id, site_id, location FROM deployments WHERE id = $1", closed)
        if not still_current or previous is None:
            raise PlacementError("the camera's deployments changed since this move; correct them one by one")
        moved = await connection.execute(
            "UPDATE images SET deployment_id = $2, site_id = $3 WHERE deployment_id = $1",
            opened,
            previous["id"],
            previous["site_id"],
        )
        await connection.execute("DELETE FROM deployments WHERE id = $1", opened)
        await connection.execute("UPDATE deployments SET ends_on = NULL WHERE id = $1", previous["id"])
        await connection.execute(
            "UPDATE cameras SET last_location = $2, candidate_location = NULL, candidate_since = NULL WHERE id = $1",
            camera_id,
            previous["location"],
        )
        await connection.execute("UPDATE camera_updates SET resolved_at = now() WHERE id = $1", update_id)
        await cameras.add_update(connection, camera_id, "not_moved", undone_update=update_id, by=by)
        await audit.record(connection, actor=by, action="camera.not-moved", target=str(update_id))
    return {"camera_id": camera_id, "deployment_id": previous["id"], "images_moved": int(moved.split()[-1])}


async def _lock_camera(connection: asyncpg.Connection, camera_id: int) -> None:
    """The camera's row lock, taken first, in the same order as the ingestor takes it."""
    await connection.execute("SELECT id FROM cameras WHERE id = $1 FOR UPDATE", camera_id)
