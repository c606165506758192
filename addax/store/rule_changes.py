"""Making, changing and deleting a user's alert rules, with the checks the HTTP API and the dashboard share.

Users make and change their own rules; project admins also see the rules of their projects (not a user's
private theft watch). A reminder is for the team, so only a project admin sets one. Sites and zone cameras
must be the rule's project's own. Every refusal is a :class:`RuleRefused` with the HTTP status the API answers
and the field a form shows it next to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from addax.domain.alerts import DetectionRule, RuleBody, RuleError, parse_rule
from addax.domain.delivery import next_run
from addax.store import accounts, alerts, audit, projects
from addax.store.accounts import ADMIN_ROLES
from addax.store.alerts import StoredRule


class RuleRefused(Exception):
    """A rule cannot be made or changed as asked; ``status`` is the API's answer, ``field`` the culprit."""

    def __init__(self, status: int, message: str, *, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


async def visible_rules(pool: asyncpg.Pool, user: accounts.User) -> list[StoredRule]:
    """The user's own rules and those of the projects they administer (not others' theft watches)."""
    roles = await accounts.project_roles(pool, user)
    administered = [project for project, role in roles.items() if role in ADMIN_ROLES]
    return await alerts.rules_for(pool, user_id=user.id, administered=administered)


async def own_rule(pool: asyncpg.Pool, user: accounts.User, rule_id: int) -> StoredRule:
    """The user's own rule (404 for another's: an admin sees it but does not change it)."""
    rule = await alerts.rule(pool, rule_id)
    if rule is None or rule.user_id != user.id:
        raise RuleRefused(404, "no such rule of yours")
    return rule


async def triable_rule(pool: asyncpg.Pool, user: accounts.User, rule_id: int) -> StoredRule:
    """The user's own rule, to try on the photos of its project: only while they are still in that project (a
    member who left keeps their sleeping rules, not a view of the project's photos)."""
    rule = await own_rule(pool, user, rule_id)
    if rule.project_id not in await accounts.project_roles(pool, user):
        raise RuleRefused(403, "you are no longer in this rule's project, so it cannot be tried")
    return rule


async def add(pool: asyncpg.Pool, user: accounts.User, body: dict[str, Any]) -> StoredRule:
    """A new rule of ``user`` from the API's flat JSON body (``project`` a name or an id of theirs)."""
    roles = await accounts.project_roles(pool, user)
    project_id = await project_of(pool, body.get("project"), roles)
    rule = parsed(body)
    if rule.kind == "reminder" and roles[project_id] not in ADMIN_ROLES:
        raise RuleRefused(403, "only a project admin sets reminders for the team", field="kind")
    await check_references(pool, project_id, rule)
    next_run_at = await _next_run(pool, project_id, rule)
    rule_id = await alerts.add_rule(pool, user_id=user.id, project_id=project_id, body=rule, next_run_at=next_run_at)
    await audit.record(pool, actor=user.email, action="alert_rule.add", target=f"alert_rule:{rule_id}", kind=rule.kind)
    stored = await alerts.rule(pool, rule_id)
    assert stored is not None
    return stored


async def change(pool: asyncpg.Pool, user: accounts.User, rule: StoredRule, body: dict[str, Any]) -> StoredRule:
    """``rule`` (the user's own, see :func:`own_rule`) with the keys of ``body`` changed."""
    if "project" in body and body["project"] not in (rule.project, rule.project_id):
        raise RuleRefused(400, "project: a rule stays in its project; make a new one", field="project")
    changed = parsed(body, current=rule.body)
    await check_references(pool, rule.project_id, changed)
    next_run_at = await _next_run(pool, rule.project_id, changed)
    await alerts.update_rule(pool, rule.id, changed, next_run_at=next_run_at)
    await audit.record(pool, actor=user.email, action="alert_rule.change", target=f"alert_rule:{rule.id}")
    stored = await alerts.rule(pool, rule.id)
    assert stored is not None
    return stored


async def delete(pool: asyncpg.Pool, user: accounts.User, rule: StoredRule) -> None:
    await alerts.delete_rule(pool, rule.id)
    await audit.record(pool, actor=user.email, action="alert_rule.delete", target=f"alert_rule:{rule.id}")


def parsed(body: dict[str, Any], current: RuleBody | None = None) -> RuleBody:
    try:
        return parse_rule(body, current=current)
    except RuleError as error:
        raise RuleRefused(400, str(error), field=error.field) from None


async def project_of(pool: asyncpg.Pool, named: Any, roles: dict[int, accounts.Role]) -> int:
    """The project of a body's ``project`` (a name or an id) among the caller's; 403 for any other, so that
    nobody learns which project names exist elsewhere."""
    if named is None or named == "":
        raise RuleRefused(400, "project: required (the project's name or id)", field="project")
    if isinstance(named, int) and not isinstance(named, bool):
        found = await pool.fetchval("SELECT id FROM projects WHERE id = $1", named)
    elif isinstance(named, str):
        found = await pool.fetchval("SELECT id FROM projects WHERE name = $1", named)
    else:
        raise RuleRefused(400, "project: expected a name or an id", field="project")
    if found is None or found not in roles:
        raise RuleRefused(403, f"project: no access to project {named!r}", field="project")
    return int(found)


async def check_references(pool: asyncpg.Pool, project_id: int, body: RuleBody) -> None:
    """Sites and zone cameras of a detection rule must be the project's own (400 naming the one that is not)."""
    settings = body.settings
    if not isinstance(settings, DetectionRule):
        return
    sites = set(await alerts.ids_in_project(pool, "sites", project_id, sorted(settings.sites)))
    if foreign := sorted(settings.sites - sites):
        raise RuleRefused(400, f"sites: no site {foreign[0]} in this project", field="sites")
    cameras = {zone.camera_id for zone in settings.zones}
    known = set(await alerts.ids_in_project(pool, "cameras", project_id, sorted(cameras)))
    for index, zone in enumerate(settings.zones):
        if zone.camera_id not in known:
            field = f"zones[{index}].camera"
            raise RuleRefused(400, f"{field}: no camera {zone.camera_id} in this project", field=field)


async def _next_run(pool: asyncpg.Pool, project_id: int, body: RuleBody) -> datetime | None:
    """When a scheduled rule runs first; a reminder for a day already over is refused rather than never sent."""
    if not body.enabled:
        return None
    tz = ZoneInfo(await projects.timezone(pool, project_id))
    at = next_run(body.settings, datetime.now(UTC), tz, first=True)
    if body.kind == "reminder" and at is None:
        raise RuleRefused(400, "on: that day has passed in the project's time zone", field="on")
    return at
