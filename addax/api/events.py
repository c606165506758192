"""``GET /api/ws``: live events (image.received, camera.updated, ...) as JSON messages.

Authenticate with ``?token=<bearer token>`` (browsers cannot set headers on WebSockets) or the
Authorization header. Each message is ``{"type": ..., "data": {...}}``; events of projects the
user cannot see are not sent, and ``alert.sent`` only to the user it was sent to (and server admins).

While the socket is open, the token is re-checked every ``session_check_s`` seconds: after a logout, a
password change or the user being disabled, the server closes it with code 4001 and the reason.
"""

from __future__ import annotations

import asyncio
import json
import logging

import asyncpg
from aiohttp import WSMsgType, web

from addax.api.access import _default
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.domain.secrets import token_digest
from addax.runtime.broadcast import Subscription
from addax.store import accounts

log = logging.getLogger("addax.api.events")
routes = web.RouteTableDef()

SESSION_ENDED = 4001  # a close code of the application range (4000-4999): log in again for a new token


@routes.get("/api/ws")
async def websocket(request: web.Request) -> web.WebSocketResponse:
    services = request.app[SERVICES]
    token = request.query.get("token") or request.headers.get("Authorization", "").partition(" ")[2]
    digest = token_digest(token)
    user = await accounts.user_for_api_token(services.pool, digest) if token else None
    if user is None:
        raise json_error(401, "send ?token=<bearer token from POST /api/auth/token>")
    projects = set(await accounts.project_roles(services.pool, user))
    socket = web.WebSocketResponse(heartbeat=30)
    await socket.prepare(request)
    with services.events.subscribe() as subscription:
        async with asyncio.TaskGroup() as group:
            sender = group.create_task(
                _send(socket, subscription, projects, user_id=user.id, everything=user.is_server_admin)
            )
            drained = group.create_task(_drain(socket))  # done when the client goes away
            ended = group.create_task(_session_ended(services.pool, digest, every_s=services.session_check_s))
            await asyncio.wait([drained, ended], return_when=asyncio.FIRST_COMPLETED)
            if ended.done():
                await socket.close(code=SESSION_ENDED, message=b"session ended: log in again")
            sender.cancel()
            ended.cancel()
    return socket


async def _session_ended(pool: asyncpg.Pool, digest: bytes, *, every_s: float) -> None:
    """Returns once the token no longer opens the API (logged out, expired, new password, user disabled)."""
    while True:
        await asyncio.sleep(every_s)
        try:
            if await accounts.user_for_api_token(pool, digest) is None:
                return
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            log.warning("cannot re-check a WebSocket's session; trying again", extra={"error": str(error)})


async def _send(
    socket: web.WebSocketResponse, subscription: Subscription, projects: set[int], *, user_id: int, everything: bool
) -> None:
    while True:
        event = await subscription.next()
        if everything or _visible(event.type, event.data, projects, user_id):
            await socket.send_str(json.dumps({"type": event.type, "data": event.data}, default=_default))


def _visible(kind: str, data: dict[str, object], projects: set[int], user_id: int) -> bool:
    """A project's events for its members; an alert for the one it was sent to (a theft watch is private)."""
    if kind == "alert.sent":
        return data.get("user_id") == user_id
    return data.get("project_id") in projects


async def _drain(socket: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, so pings are answered and a close is noticed."""
    async for message in socket:
        if message.type == WSMsgType.ERROR:
            return
