"""``POST /api/auth/token`` (log in), ``POST /api/auth/logout`` and ``GET /api/auth/me``."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from addax.api.access import bearer_token, require_user
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.api.limits import too_large
from addax.domain.secrets import MAX_EMAIL_CHARS, MAX_PASSWORD_CHARS, new_token, token_digest
from addax.store import accounts
from addax.store.logins import LoginRefused

routes = web.RouteTableDef()


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object in the body; 413 as soon as the body grows past client_max_size (see limits.py)."""
    try:
        body = await request.json()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(request.client_max_size) from None
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
    if len(email) > MAX_EMAIL_CHARS or len(password) > MAX_PASSWORD_CHARS:
        raise json_error(400, f"the e-mail is at most {MAX_EMAIL_CHARS} characters, the password {MAX_PASSWORD_CHARS}")
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


@routes.post("/api/auth/logout")
async def log_out(request: web.Request) -> web.Response:
    """The bearer token this is sent with stops working (and a WebSocket opened with it is closed)."""
    await require_user(request)
    await accounts.end_api_token(request.app[SERVICES].pool, token_digest(bearer_token(request)))
    return web.Response(status=204)
