"""``GET /api/ws``: live events (image.received, camera.updated, ...) as JSON messages.

Authenticate with ``?token=<bearer token>`` (browsers cannot set headers on WebSockets) or the
Authorization header. Each message is ``{"type": ..., "data": {...}}``; events of projects the
user cannot see are not sent.
"""

from __future__ import annotations

import asyncio
import json

from aiohttp import WSMsgType, web

from addax.api.access import _default
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.domain.secrets import token_digest
from addax.runtime.broadcast import Subscription
from addax.store import accounts

routes = web.RouteTableDef()


@routes.get("/api/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    services = request.app[SERVICES]
    token = request.query.get("token") or request.headers.get("Authorization", "").partition(" ")[2]
    user = await accounts.user_for_api_token(services.pool, token_digest(token)) if token else None
    if user is None:
        raise json_error(401, "send ?token=<bearer token from POST /api/auth/token>")
    projects = set(await accounts.project_roles(services.pool, user))
    socket = web.WebSocketResponse(heartbeat=30)
    await socket.prepare(request)
    with services.events.subscribe() as subscription:
        async with asyncio.TaskGroup() as group:
            sender = group.create_task(_send(socket, subscription, projects, everything=user.is_server_admin))
            await _drain(socket)  # returns when the client goes away
            sender.cancel()
    return socket


async def _send(
    socket: web.WebSocketResponse, subscription: Subscription, projects: set[int], *, everything: bool
) -> None:
    while True:
        event = await subscription.next()
        if everything or event.data.get("project_id") in projects:
            await socket.send_str(json.dumps({"type": event.type, "data": event.data}, default=_default))


async def _drain(socket: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings are answered and a close is noticed."""
    async for message in socket:
        if message.type == WSMsgType.ERROR:
            return
