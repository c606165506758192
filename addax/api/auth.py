"""``POST /api/auth/token`` and the bearer-token check the other handlers use."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from addax.api.access import require_user
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.domain.secrets import new_token, token_digest
from addax.store import accounts
from addax.store.logins import LoginRefused

routes = web.RouteTableDef()


async def read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise json_error(400, "the body must be JSON") from None
    if not isinstance(body, dict):
        raise json_error(400, "the body must be a JSON object")
    return body


@routes.post("/api/auth/token")
async def issue_token(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    body = await read_json(request)
    email, password = body.get("email"), body.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        raise json_error(400, 'send {"email": ..., "password": ...}')
    try:
        user = await services.logins.user(email, password, address=request.remote or "unknown")
    except LoginRefused as refused:
        if refused.locked:
            error = json_error(429, str(refused))
            error.headers["Retry-After"] = str(refused.retry_after_s)
            raise error from None
        raise json_error(401, str(refused)) from None
    token = new_token()
    await accounts.issue_api_token(services.pool, user.id, token_digest(token), ttl=services.token_ttl)
    return web.json_response({"token": token, "expires_in": int(services.token_ttl.total_seconds())})


@routes.get("/api/auth/me")
async def who_am_i(request: web.Request) -> web.Response:
    user = await require_user(request)
    return web.json_response({"id": user.id, "email": user.email, "server_admin": user.is_server_admin})
