"""``/api/dead-letters``: images whose processing failed for good, with the error; retry one after a fix."""

from __future__ import annotations

from aiohttp import web

from addax.api.access import (
    ADMIN_ROLES,
    int_param,
    path_id,
    require_admin_of_owner,
    require_user,
    respond,
    visible_projects,
)
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.store import accounts, browse, retries, work

routes = web.RouteTableDef()


@routes.get("/api/dead-letters")
async def list_dead_letters(request: web.Request) -> web.Response:
    pool = request.app[SERVICES].pool
    only = int_param(request, "project")
    projects = await visible_projects(request, only=only)
    user = await require_user(request)
    roles = await accounts.project_roles(pool, user)
    found = await work.dead_letters(
        pool,
        projects=projects,
        administered=[project for project in projects if roles.get(project) in ADMIN_ROLES],
        user_id=user.id,
        everything=user.is_server_admin and only is None,
    )
    return respond({"dead_letters": found})


@routes.post("/api/dead-letters/{id}/retry")
async def retry(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    pool, letter_id = services.pool, path_id(request)
    about = await retries.letter(pool, letter_id)
    if about is None:
        raise json_error(404, "no such dead letter")
    if about.notification_id is not None:
        return await _retry_notification(request, letter_id)
    user = await require_admin_of_owner(request, browse.Owned.DEAD_LETTER, "no such dead letter")
    image_id = await retries.retry_image(pool, letter_id, by=user.email)
    if image_id is None:
        raise json_error(409, "already retried, or the image is no longer failed")
    return respond({"status": "accepted", "image_id": image_id}, status=202)


async def _retry_notification(request: web.Request, letter_id: int) -> web.Response:
    """A notification that could not be delivered: pending again, and queued (after the cause was fixed). For
    those who may see it in the list; a viewer only their own."""
    services = request.app[SERVICES]
    user = await require_user(request)
    roles = await accounts.project_roles(services.pool, user)
    visible = await work.dead_letters(
        services.pool,
        projects=[],
        administered=[project for project, role in roles.items() if role in ADMIN_ROLES],
        user_id=user.id,
        everything=user.is_server_admin,
        letter=letter_id,
    )
    if not visible:
        raise json_error(404, "no such dead letter")
    try:
        notification_id = await retries.retry_notification(
            services.pool, letter_id, by=user.email, enqueue_deliveries=services.enqueue_deliveries
        )
    except retries.NoDelivery as refused:
        raise json_error(409, str(refused)) from None
    if notification_id is None:
        raise json_error(409, "already retried")
    return respond({"status": "accepted", "notification_id": notification_id}, status=202)
