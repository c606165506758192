"""``/api/alert-rules``, ``/api/me/telegram`` and ``/api/notifications``: a user's rules, channels and log.

Users make and change their own rules; project admins also see the rules of their projects (not a user's
private theft watch). A reminder is for the team, so only a project admin sets one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from addax.api.access import ADMIN_ROLES, int_param, path_id, require_user, respond
from addax.api.auth import read_json
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.channels.errors import DeliveryFailed
from addax.domain.alerts import DetectionRule, RuleBody, RuleError, parse_rule, rule_json
from addax.domain.delivery import next_run
from addax.domain.secrets import token_digest
from addax.store import accounts, alerts, audit, notifications, telegram
from addax.store.alerts import StoredRule

routes = web.RouteTableDef()

LINK_VALID_FOR = timedelta(hours=24)


def _shown(rule: StoredRule) -> dict[str, Any]:
    return {"id": rule.id, "project": rule.project, "owner": rule.owner, **rule_json(rule.body)}


def _parsed(body: dict[str, Any], current: RuleBody | None = None) -> RuleBody:
    try:
        return parse_rule(body, current=current)
    except RuleError as error:
        raise json_error(400, str(error), field=error.field) from None


async def _check_references(request: web.Request, project_id: int, body: RuleBody) -> None:
    """Sites and zone cameras of a detection rule must be the project's own (400 naming the one that is not)."""
    settings = body.settings
    if not isinstance(settings, DetectionRule):
        return
    pool = request.app[SERVICES].pool
    sites = set(await alerts.ids_in_project(pool, "sites", project_id, sorted(settings.sites)))
    if foreign := sorted(settings.sites - sites):
        raise json_error(400, f"sites: no site {foreign[0]} in this project", field="sites")
    cameras = {zone.camera_id for zone in settings.zones}
    known = set(await alerts.ids_in_project(pool, "cameras", project_id, sorted(cameras)))
    for index, zone in enumerate(settings.zones):
        if zone.camera_id not in known:
            field = f"zones[{index}].camera"
            raise json_error(400, f"{field}: no camera {zone.camera_id} in this project", field=field)


async def _next_run(request: web.Request, project_id: int, body: RuleBody) -> datetime | None:
    if not body.enabled:
        return None
    tz = ZoneInfo(await alerts.project_timezone(request.app[SERVICES].pool, project_id))
    return next_run(body.settings, datetime.now(UTC), tz, first=True)


@routes.get("/api/alert-rules")
async def list_rules(request: web.Request) -> web.Response:
    pool = request.app[SERVICES].pool
    user = await require_user(request)
    roles = await accounts.project_roles(pool, user)
    only = int_param(request, "project")
    administered = [project for project, role in roles.items() if role in ADMIN_ROLES]
    found = await alerts.rules_for(pool, user_id=user.id, administered=administered)
    return respond({"rules": [_shown(rule) for rule in found if only is None or rule.project_id == only]})


@routes.post("/api/alert-rules")
async def add_rule(request: web.Request) -> web.Response:
    pool = request.app[SERVICES].pool
    user = await require_user(request)
    body = await read_json(request)
    roles = await accounts.project_roles(pool, user)
    project_id = await _project_of(request, body.get("project"), roles)
    rule = _parsed(body)
    if rule.kind == "reminder" and roles[project_id] not in ADMIN_ROLES:
        raise json_error(403, "only a project admin sets reminders for the team", field="kind")
    await _check_references(request, project_id, rule)
    next_run_at = await _next_run(request, project_id, rule)
    if rule.kind == "reminder" and next_run_at is None and rule.enabled:
        raise json_error(400, "on: that day has passed in the project's time zone", field="on")
    rule_id = await alerts.add_rule(pool, user_id=user.id, project_id=project_id, body=rule, next_run_at=next_run_at)
    await audit.record(pool, actor=user.email, action="alert_rule.add", target=f"alert_rule:{rule_id}", kind=rule.kind)
    stored = await alerts.rule(pool, rule_id)
    assert stored is not None
    return respond(_shown(stored), status=201)


async def _project_of(request: web.Request, named: Any, roles: dict[int, accounts.Role]) -> int:
    """The project of a body's ``project`` (a name or an id) among the caller's; 403 for any other, so that
    nobody learns which project names exist elsewhere."""
    if named is None or named == "":
        raise json_error(400, "project: required (the project's name or id)", field="project")
    pool = request.app[SERVICES].pool
    if isinstance(named, int) and not isinstance(named, bool):
        found = await pool.fetchval("SELECT id FROM projects WHERE id = $1", named)
    elif isinstance(named, str):
        found = await pool.fetchval("SELECT id FROM projects WHERE name = $1", named)
    else:
        raise json_error(400, "project: expected a name or an id", field="project")
    if found is None or found not in roles:
        raise json_error(403, f"project: no access to project {named!r}", field="project")
    return int(found)


async def _own_rule(request: web.Request) -> tuple[StoredRule, accounts.User]:
    user = await require_user(request)
    rule = await alerts.rule(request.app[SERVICES].pool, path_id(request))
    if rule is None or rule.user_id != user.id:
        raise json_error(404, "no such rule of yours")
    return rule, user


@routes.patch("/api/alert-rules/{id}")
async def change_rule(request: web.Request) -> web.Response:
    pool = request.app[SERVICES].pool
    rule, user = await _own_rule(request)
    body = await read_json(request)
    if "project" in body and body["project"] not in (rule.project, rule.project_id):
        raise json_error(400, "project: a rule stays in its project; make a new one", field="project")
    changed = _parsed(body, current=rule.body)
    await _check_references(request, rule.project_id, changed)
    next_run_at = await _next_run(request, rule.project_id, changed)
    if changed.kind == "reminder" and next_run_at is None and changed.enabled:
        raise json_error(400, "on: that day has passed in the project's time zone", field="on")
    await alerts.update_rule(pool, rule.id, changed, next_run_at=next_run_at)
    await audit.record(pool, actor=user.email, action="alert_rule.change", target=f"alert_rule:{rule.id}")
    stored = await alerts.rule(pool, rule.id)
    assert stored is not None
    return respond(_shown(stored))


@routes.delete("/api/alert-rules/{id}")
async def delete_rule(request: web.Request) -> web.Response:
    pool = request.app[SERVICES].pool
    rule, user = await _own_rule(request)
    await alerts.delete_rule(pool, rule.id)
    await audit.record(pool, actor=user.email, action="alert_rule.delete", target=f"alert_rule:{rule.id}")
    return web.Response(status=204)


@routes.post("/api/alert-rules/{id}/test")
async def test_rule(request: web.Request) -> web.Response:
    """``{"image_id": N, "send": false}``: would my rule alert about that past photo (and, with ``send``, a
    ``[test]`` copy to my channels)? The cooldown, rarity and the photo's age are not checked."""
    services = request.app[SERVICES]
    rule, _ = await _own_rule(request)
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
    token = secrets.token_urlsafe(24)
    await telegram.add_link_token(services.pool, user.id, token_digest(token), valid_for=LINK_VALID_FOR)
    linked = await telegram.link_of(services.pool, user.id)
    return respond(
        {
            "linked": linked is not None,
            "chat_username": linked.username if linked else None,
            "bot": username,
            "link": f"https://t.me/{username}?start={token}",
            "expires_at": datetime.now(UTC) + LINK_VALID_FOR,
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
