"""Cameras, sites, deployments and the camera-updates feed, with the corrections admins make."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from addax.api.access import (
    int_param,
    path_id,
    require_admin_of,
    require_admin_of_owner,
    respond,
    visible_projects,
)
from addax.api.auth import read_json
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.store import browse, cameras, placement

routes = web.RouteTableDef()


@routes.get("/api/cameras")
async def list_cameras(request: web.Request) -> web.Response:
    projects = await visible_projects(request, only=int_param(request, "project"))
    return respond({"cameras": await browse.cameras(request.app[SERVICES].pool, projects=projects)})


async def _camera(request: web.Request) -> dict[str, Any]:
    projects = await visible_projects(request)
    found = await browse.cameras(request.app[SERVICES].pool, projects=projects, camera_id=path_id(request))
    if not found:
        raise json_error(404, "no such camera")
    return found[0]


@routes.get("/api/cameras/{id}")
async def get_camera(request: web.Request) -> web.Response:
    return respond(await _camera(request))


@routes.patch("/api/cameras/{id}")
async def edit_camera(request: web.Request) -> web.Response:
    """Name a camera, approve it ({"status": "active"}), retire it, or set its clock's time zone."""
    camera = await _camera(request)
    user = await require_admin_of(request, camera["project_id"])
    body = await read_json(request)
    name, status, timezone = body.get("name"), body.get("status"), body.get("timezone")
    if status is not None and status not in ("pending", "active", "retired"):
        raise json_error(400, "status must be pending, active or retired")
    if timezone is not None and not _known_zone(timezone):
        raise json_error(400, f"unknown time zone {timezone!r} (use an IANA name like Europe/Amsterdam)")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise json_error(400, "name must be a non-empty string")
    await cameras.edit_audited(
        request.app[SERVICES].pool, camera["id"], by=user.email, name=name, status=status, timezone=timezone
    )
    request.app[SERVICES].events.publish(
        "camera.updated", {"id": camera["id"], "project_id": camera["project_id"], "change": "edited"}
    )
    return respond(await _camera(request))


def _known_zone(name: object) -> bool:
    if not isinstance(name, str):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@routes.get("/api/cameras/{id}/health")
async def get_camera_health(request: web.Request) -> web.Response:
    camera = await _camera(request)
    reports = await browse.camera_health(request.app[SERVICES].pool, camera["id"])
    return respond({"camera_id": camera["id"], "reports": reports})


@routes.post("/api/cameras/{id}/place")
async def place_camera(request: web.Request) -> web.Response:
    """Put a camera (e.g. one without GPS) on a site from a date: {"site_id": 3, "from": "2026-05-01"}."""
    camera = await _camera(request)
    user = await require_admin_of(request, camera["project_id"])
    body = await read_json(request)
    site_id, starts = body.get("site_id"), body.get("from")
    if not isinstance(site_id, int) or not isinstance(starts, str):
        raise json_error(400, 'send {"site_id": <int>, "from": "YYYY-MM-DD"}')
    result = await placement.place(request.app[SERVICES].pool, camera["id"], site_id, starts, by=user.email)
    request.app[SERVICES].events.publish(
        "camera.updated", {"id": camera["id"], "project_id": camera["project_id"], "change": "manual_placement"}
    )
    return respond(result)


@routes.get("/api/sites")
async def list_sites(request: web.Request) -> web.Response:
    projects = await visible_projects(request, only=int_param(request, "project"))
    return respond({"sites": await browse.sites(request.app[SERVICES].pool, projects=projects)})


@routes.patch("/api/sites/{id}")
async def rename_site(request: web.Request) -> web.Response:
    pool = request.app[SERVICES].pool
    user = await require_admin_of_owner(request, browse.Owned.SITE, "no such site")
    name = (await read_json(request)).get("name")
    if not isinstance(name, str) or not name.strip():
        raise json_error(400, 'send {"name": "..."}')
    await placement.rename_site(pool, path_id(request), name.strip(), by=user.email)
    return respond({"id": path_id(request), "name": name.strip()})


@routes.get("/api/deployments")
async def list_deployments(request: web.Request) -> web.Response:
    projects = await visible_projects(request, only=int_param(request, "project"))
    found = await browse.deployments(request.app[SERVICES].pool, projects=projects, camera=int_param(request, "camera"))
    return respond({"deployments": found})


@routes.post("/api/deployments/{id}/reassign")
async def reassign_deployment(request: web.Request) -> web.Response:
    """Move a deployment (and its images) to another site: {"site_id": 3}."""
    pool = request.app[SERVICES].pool
    user = await require_admin_of_owner(request, browse.Owned.DEPLOYMENT, "no such deployment")
    site_id = (await read_json(request)).get("site_id")
    if not isinstance(site_id, int):
        raise json_error(400, 'send {"site_id": <int>}')
    moved = await placement.reassign(pool, path_id(request), site_id, by=user.email)
    return respond({"id": path_id(request), "site_id": site_id, "images_moved": moved})


@routes.get("/api/camera-updates")
async def list_camera_updates(request: web.Request) -> web.Response:
    projects = await visible_projects(request, only=int_param(request, "project"))
    return respond({"updates": await browse.camera_updates(request.app[SERVICES].pool, projects=projects)})


@routes.post("/api/camera-updates/{id}/not-moved")
async def not_moved(request: web.Request) -> web.Response:
    """Undo a detected move: the camera stayed; its images go back to the earlier deployment."""
    pool = request.app[SERVICES].pool
    user = await require_admin_of_owner(request, browse.Owned.CAMERA_UPDATE, "no such camera update")
    return respond(await placement.undo_move(pool, path_id(request), by=user.email))
