"""Who is asking, and which projects they may see or administer. JSON responses with dates."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID

from aiohttp import web

from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.domain.secrets import token_digest
from addax.store import accounts, browse
from addax.store.accounts import ADMIN_ROLES


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def respond(data: Any, *, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj, default=_default))


def bearer_token(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise json_error(401, "log in first: send Authorization: Bearer <token> from POST /api/auth/token")
    return token.strip()


async def require_user(request: web.Request) -> accounts.User:
    user = await accounts.user_for_api_token(request.app[SERVICES].pool, token_digest(bearer_token(request)))
    if user is None:
        raise json_error(401, "the token is unknown or expired")
    return user


async def visible_projects(request: web.Request, *, only: int | None = None) -> list[int]:
    """The project ids the caller may read, narrowed to ``only`` (403 when that one is not theirs)."""
    user = await require_user(request)
    roles = await accounts.project_roles(request.app[SERVICES].pool, user)
    if only is None:
        return list(roles)
    if only not in roles:
        raise json_error(403, f"no access to project {only}")
    return [only]


async def require_server_admin(request: web.Request) -> accounts.User:
    user = await require_user(request)
    if not user.is_server_admin:
        raise json_error(403, "only a server admin may do this")
    return user


async def administered_projects(request: web.Request, *, only: int | None = None) -> list[int]:
    """The project ids the caller administers, narrowed to ``only``; 403 when that one (or every one) is not."""
    user = await require_user(request)
    roles = await accounts.project_roles(request.app[SERVICES].pool, user)
    mine = [project for project, role in roles.items() if role in ADMIN_ROLES]
    if only is not None and only not in mine:
        raise json_error(403, f"only an admin of project {only} may do this")
    if not mine:
        raise json_error(403, "only a project admin may do this")
    return mine if only is None else [only]


async def require_admin_of(request: web.Request, project_id: int) -> accounts.User:
    user = await require_user(request)
    roles = await accounts.project_roles(request.app[SERVICES].pool, user)
    if roles.get(project_id) not in ADMIN_ROLES:
        raise json_error(403, f"only an admin of project {project_id} may do this")
    return user


async def require_admin_of_owner(request: web.Request, thing: browse.Owned, missing: str) -> accounts.User:
    """404 when the thing named by the path's id does not exist; 403 unless the caller administers its project."""
    project_id = await browse.project_of(request.app[SERVICES].pool, thing, path_id(request))
    if project_id is None:
        raise json_error(404, missing)
    return await require_admin_of(request, project_id)


def int_param(request: web.Request, name: str, *, default: int | None = None) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise json_error(400, f"{name} must be an integer, got {text!r}") from None


def time_param(request: web.Request, name: str) -> datetime | None:
    text = request.query.get(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise json_error(400, f"{name} must be an ISO 8601 time, got {text!r}") from None
    if moment.tzinfo is None:
        raise json_error(400, f"{name} needs a UTC offset (e.g. 2026-05-01T00:00:00Z)")
    return moment


def path_id(request: web.Request, name: str = "id") -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise json_error(404, "not found") from None
