"""Accounts: one's own password, users (server admins), upload accounts and device tokens (project admins).

Disabling takes effect at once: a disabled user's tokens are deleted, a disabled upload account cannot log
in to FTPS, a revoked device token is refused by the upload API. Every change is in the audit log.
Password and token hashes never leave the server.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from addax.api.access import (
    administered_projects,
    int_param,
    path_id,
    require_admin_of_owner,
    require_server_admin,
    require_user,
    respond,
)
from addax.api.auth import read_json
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.domain.secrets import MAX_PASSWORD_CHARS, hash_password, new_token, token_digest
from addax.store import accounts, browse
from addax.store.logins import LoginRefused

routes = web.RouteTableDef()

MIN_NEW_PASSWORD_CHARS = 8


@routes.post("/api/me/password")
async def change_my_password(request: web.Request) -> web.Response:
    """{"current_password", "new_password"}: every session of the user ends; the answer holds a fresh token."""
    services = request.app[SERVICES]
    user = await require_user(request)
    current, new = _password_change(await read_json(request))
    try:  # through the login guard: wrong guesses here count towards the lockout like any login
        await services.logins.user(user.email, current, address=request.remote or "unknown")
    except LoginRefused as refused:
        if refused.locked:
            error = json_error(429, str(refused))
            error.headers["Retry-After"] = str(refused.retry_after_s)
            raise error from None
        raise json_error(403, "the current password is wrong") from None
    password_hash = await asyncio.to_thread(hash_password, new)
    token = new_token()
    ended = await accounts.set_user_password(
        services.pool, user.id, password_hash, by=user.email, new_session=(token_digest(token), services.token_ttl)
    )
    return respond({"token": token, "expires_in": int(services.token_ttl.total_seconds()), "sessions_ended": ended})


def _password_change(body: dict[str, object]) -> tuple[str, str]:
    _only_fields(body, {"current_password", "new_password"})
    current, new = body.get("current_password"), body.get("new_password")
    if not isinstance(current, str) or not isinstance(new, str) or not current:
        raise json_error(400, 'send {"current_password": ..., "new_password": ...}')
    if len(current) > MAX_PASSWORD_CHARS:
        raise json_error(400, f"the current password is at most {MAX_PASSWORD_CHARS} characters")
    if not MIN_NEW_PASSWORD_CHARS <= len(new) <= MAX_PASSWORD_CHARS:
        raise json_error(400, f"the new password needs {MIN_NEW_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    return current, new


@routes.get("/api/users")
async def list_users(request: web.Request) -> web.Response:
    await require_server_admin(request)
    return respond({"users": await accounts.users(request.app[SERVICES].pool)})


@routes.patch("/api/users/{id}")
async def edit_user(request: web.Request) -> web.Response:
    """{"disabled": true} stops the user's logins and ends every session at once; false lets them log in again."""
    pool = request.app[SERVICES].pool
    admin = await require_server_admin(request)
    disabled = await _disabled_flag(request)
    user_id = path_id(request)
    if not await accounts.users(pool, only=user_id):
        raise json_error(404, "no such user")
    if disabled and user_id == admin.id:
        raise json_error(409, "you cannot disable your own account; ask another server admin")
    if disabled:
        await accounts.disable_user(pool, user_id, by=admin.email)
    else:
        await accounts.enable_user(pool, user_id, by=admin.email)
    return respond((await accounts.users(pool, only=user_id))[0])


@routes.get("/api/upload-accounts")
async def list_upload_accounts(request: web.Request) -> web.Response:
    projects = await administered_projects(request, only=int_param(request, "project"))
    found = await accounts.upload_accounts(request.app[SERVICES].pool, projects=projects)
    return respond({"upload_accounts": found})


@routes.patch("/api/upload-accounts/{id}")
async def edit_upload_account(request: web.Request) -> web.Response:
    """{"disabled": true}: cameras with this account can no longer log in to FTPS; false lets them again."""
    pool = request.app[SERVICES].pool
    admin = await require_admin_of_owner(request, browse.Owned.UPLOAD_ACCOUNT, "no such upload account")
    disabled = await _disabled_flag(request)
    account_id = path_id(request)
    if disabled:
        await accounts.disable_upload_account(pool, account_id, by=admin.email)
    else:
        await accounts.enable_upload_account(pool, account_id, by=admin.email)
    return respond((await accounts.upload_accounts(pool, only=account_id))[0])


@routes.get("/api/device-tokens")
async def list_device_tokens(request: web.Request) -> web.Response:
    projects = await administered_projects(request, only=int_param(request, "project"))
    found = await accounts.device_tokens(request.app[SERVICES].pool, projects=projects)
    return respond({"device_tokens": found})


@routes.post("/api/device-tokens/{id}/revoke")
async def revoke_device_token(request: web.Request) -> web.Response:
    """The token is refused from now on, for good; a device gets a new one with `addax token add`."""
    pool = request.app[SERVICES].pool
    admin = await require_admin_of_owner(request, browse.Owned.DEVICE_TOKEN, "no such device token")
    token_id = path_id(request)
    await accounts.revoke_device_token(pool, token_id, by=admin.email)
    return respond((await accounts.device_tokens(pool, only=token_id))[0])


async def _disabled_flag(request: web.Request) -> bool:
    body = await read_json(request)
    _only_fields(body, {"disabled"})
    disabled = body.get("disabled")
    if not isinstance(disabled, bool):
        raise json_error(400, 'send {"disabled": true} or {"disabled": false}')
    return disabled


def _only_fields(body: dict[str, object], allowed: set[str]) -> None:
    if set(body) - allowed:
        raise json_error(400, f"unknown fields: this takes only {', '.join(sorted(allowed))}")
