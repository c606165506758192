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
from addax.store import accounts, audit, browse, notifications, work

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
    about = await pool.fetchrow("SELECT image_id, notification_id FROM dead_letters WHERE id = $1", letter_id)
    if about is None:
        raise json_error(404, "no such dead letter")
    if about["notification_id"] is not None:
        return await _retry_notification(request, letter_id)
    user = await require_admin_of_owner(request, browse.Owned.DEAD_LETTER, "no such dead letter")
    image_id = await work.retry_dead_letter(pool, letter_id)
    if image_id is None:
        raise json_error(409, "already retried, or the image is no longer failed")
    await audit.record(pool, actor=user.email, action="dead_letter.retry", target=f"image:{image_id}")
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
    if services.enqueue_deliveries is None:
        raise json_error(409, "nothing delivers notifications in this process")
    async with services.pool.acquire() as connection, connection.transaction():
        notification_id = await notifications.retry_dead_letter(connection, letter_id)
    if notification_id is None:
        raise json_error(409, "already retried")
    await services.enqueue_deliveries([notification_id])
    await audit.record(
        services.pool, actor=user.email, action="dead_letter.retry", target=f"notification:{notification_id}"
    )
    return respond({"status": "accepted", "notification_id": notification_id}, status=202)
