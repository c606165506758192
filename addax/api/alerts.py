"""``/api/alert-rules``, ``/api/me/telegram`` and ``/api/notifications``: a user's rules, channels and log.

Who may see and change which rule is decided in :mod:`addax.store.rule_changes`, shared with the dashboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web

from addax.api.access import int_param, path_id, require_user, respond
from addax.api.auth import read_json
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.channels.errors import DeliveryFailed
from addax.domain.alerts import rule_json
from addax.store import accounts, notifications, rule_changes, telegram
from addax.store.alerts import StoredRule
from addax.store.rule_changes import RuleRefused

routes = web.RouteTableDef()


def _shown(rule: StoredRule) -> dict[str, Any]:
    return {"id": rule.id, "project": rule.project, "owner": rule.owner, **rule_json(rule.body)}


@contextmanager
def _answered() -> Iterator[None]:
    """A refusal of the shared rule checks as the API's JSON error."""
    try:
        yield
    except RuleRefused as refused:
        extra = {"field": refused.field} if refused.field is not None else {}
        raise json_error(refused.status, refused.message, **extra) from None


@routes.get("/api/alert-rules")
async def list_rules(request: web.Request) -> web.Response:
    user = await require_user(request)
    only = int_param(request, "project")
    found = await rule_changes.visible_rules(request.app[SERVICES].pool, user)
    return respond({"rules": [_shown(rule) for rule in found if only is None or rule.project_id == only]})


@routes.post("/api/alert-rules")
async def add_rule(request: web.Request) -> web.Response:
    user = await require_user(request)
    body = await read_json(request)
    with _answered():
        stored = await rule_changes.add(request.app[SERVICES].pool, user, body)
    return respond(_shown(stored), status=201)


async def _own_rule(request: web.Request) -> tuple[StoredRule, accounts.User]:
    user = await require_user(request)
    with _answered():
        return await rule_changes.own_rule(request.app[SERVICES].pool, user, path_id(request)), user


@routes.patch("/api/alert-rules/{id}")
async def change_rule(request: web.Request) -> web.Response:
    rule, user = await _own_rule(request)
    body = await read_json(request)
    with _answered():
        stored = await rule_changes.change(request.app[SERVICES].pool, user, rule, body)
    return respond(_shown(stored))


@routes.delete("/api/alert-rules/{id}")
async def delete_rule(request: web.Request) -> web.Response:
    rule, user = await _own_rule(request)
    await rule_changes.delete(request.app[SERVICES].pool, user, rule)
    return web.Response(status=204)


@routes.post("/api/alert-rules/{id}/test")
async def test_rule(request: web.Request) -> web.Response:
    """``{"image_id": N, "send": false}``: would my rule alert about that past photo (and, with ``send``, a
    ``[test]`` copy to my channels)? The cooldown, rarity and the photo's age are not checked."""
    services = request.app[SERVICES]
    user = await require_user(request)
    with _answered():
        rule = await rule_changes.triable_rule(services.pool, user, path_id(request))
    body = await read_json(request)
    image_id, send = body.get("image_id"), body.get("send", False)
    if not isinstance(image_id, int) or isinstance(image_id, bool):
        raise json_error(400, "image_id: the id of a photo of the rule's project", field="image_id")
    if not isinstance(send, bool):
        raise json_error(400, "send: true or false", field="send")
    if services.try_rule is None:
        raise json_error(409, "no notifier runs in this process")
    try:
        return respond(await services.try_rule(rule, image_id, send=send))
    except LookupError as error:
        raise json_error(404, str(error)) from None
    except ValueError as error:
        raise json_error(400, str(error), field="kind") from None


@routes.get("/api/me/telegram")
async def my_telegram(request: web.Request) -> web.Response:
    """Whether my chat is linked, and a fresh one-time deep link to link one (valid 24 h)."""
    services = request.app[SERVICES]
    user = await require_user(request)
    if services.telegram_username is None:
        raise json_error(409, "Telegram is not set up on this server (telegram.bot_token)")
    try:
        username = await services.telegram_username()
    except DeliveryFailed as error:  # the bot API is down or the token is wrong: say so, not 500
        raise json_error(503, f"Telegram is not reachable: {error}") from None
    link, expires_at = await telegram.deep_link(services.pool, user.id, username)
    linked = await telegram.link_of(services.pool, user.id)
    return respond(
        {
            "linked": linked is not None,
            "chat_username": linked.username if linked else None,
            "bot": username,
            "link": link,
            "expires_at": expires_at,
        }
    )


@routes.delete("/api/me/telegram")
async def unlink_my_telegram(request: web.Request) -> web.Response:
    user = await require_user(request)
    await telegram.unlink_user(request.app[SERVICES].pool, user.id, by=user.email)
    return web.Response(status=204)


@routes.get("/api/notifications")
async def my_notifications(request: web.Request) -> web.Response:
    """Mine, newest first (``?all=1``: everyone's, for a server admin); ``?before=<id>`` pages on."""
    user = await require_user(request)
    everyone = request.query.get("all") in {"1", "true"}
    if everyone and not user.is_server_admin:
        raise json_error(403, "only a server admin may read everyone's notifications")
    limit = min(max(int_param(request, "limit", default=100) or 100, 1), 500)
    found = await notifications.listing(
        request.app[SERVICES].pool,
        user_id=None if everyone else user.id,
        before=int_param(request, "before"),
        limit=limit,
    )
    return respond({"notifications": found, "next_before": found[-1]["id"] if len(found) == limit else None})


@routes.post("/api/telegram/webhook")
async def telegram_webhook(request: web.Request) -> web.Response:
    """Updates that Telegram posts when ``telegram.webhook`` is on; the secret header proves they are its."""
    handle = request.app[SERVICES].telegram_update
    if handle is None:
        raise json_error(404, "no Telegram webhook here")
    secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
    try:
        accepted = await handle(secret, await request.read())
    except ValueError as error:
        raise json_error(400, str(error)) from None
    if not accepted:
        raise json_error(403, "wrong or missing X-Telegram-Bot-Api-Secret-Token")
    return respond({"ok": True})
