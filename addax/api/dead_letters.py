"""``/api/dead-letters``: images whose processing failed for good, with the error; retry one after a fix."""

from __future__ import annotations

from aiohttp import web

from addax.api.access import int_param, path_id, require_admin_of_owner, respond, visible_projects
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.store import audit, browse, work

routes = web.RouteTableDef()


@routes.get("/api/dead-letters")
async def list_dead_letters(request: web.Request) -> web.Response:
    projects = await visible_projects(request, only=int_param(request, "project"))
    found = await work.dead_letters(request.app[SERVICES].pool, projects=projects)
    return respond({"dead_letters": found})


@routes.post("/api/dead-letters/{id}/retry")
async def retry(request: web.Request) -> web.Response:
    pool = request.app[SERVICES].pool
    user = await require_admin_of_owner(request, browse.Owned.DEAD_LETTER, "no such dead letter")
    image_id = await work.retry_dead_letter(pool, path_id(request))
    if image_id is None:
        raise json_error(409, "already retried, or the image is no longer failed")
    await audit.record(pool, actor=user.email, action="dead_letter.retry", target=f"image:{image_id}")
    return respond({"status": "accepted", "image_id": image_id}, status=202)
