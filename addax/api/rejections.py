"""``/api/rejections``: files that were refused, with their reason; reprocess one after fixing the cause."""

from __future__ import annotations

from aiohttp import web

from addax.api.access import int_param, path_id, require_admin_of_owner, respond, visible_projects
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.store import browse, reprocess

routes = web.RouteTableDef()


@routes.get("/api/rejections")
async def list_rejections(request: web.Request) -> web.Response:
    projects = await visible_projects(request, only=int_param(request, "project"))
    found = await browse.rejections(
        request.app[SERVICES].pool, projects=projects, reason=request.query.get("reason") or None
    )
    return respond({"rejections": found})


@routes.post("/api/rejections/{id}/reprocess")
async def reprocess_rejection(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    user = await require_admin_of_owner(request, browse.Owned.REJECTION, "no such rejected file")
    arrival = await reprocess.release(
        services.pool, services.objects, services.receiver, path_id(request), by=user.email
    )
    if arrival is None:
        raise json_error(409, "the file is no longer rejected")
    return respond({"status": "accepted", "id": arrival.id}, status=202)
