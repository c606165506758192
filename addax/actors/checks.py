"""What each scheduled rule does when its time comes: look at the project, decide whom to tell what.

Each check runs inside the scheduler's transaction and returns the messages to record; conditions that fire
once and re-arm (a low battery, a silent camera) keep their state in ``alert_states`` in that same
transaction, so a crash repeats nothing and loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from addax.domain.alerts import (
    CameraHealthRule,
    CameraState,
    DigestRule,
    ProjectRule,
    ReminderRule,
    SpeciesReportRule,
    TheftWatchRule,
    busy_cameras,
    health_problems,
    project_silence,
    silent_against_rhythm,
    transition,
)
from addax.domain.schedules import period_before
from addax.domain.species_report import species_rows, trap_days
from addax.store import alerts, notifications, summaries
from addax.store.alerts import StoredRule
from addax.store.notifications import Message


@dataclass(frozen=True, slots=True)
class Tell:
    """One message for some users on some channels."""

    message: Message
    user_ids: tuple[int, ...]
    channels: tuple[str, ...]
    only_linked: bool = False  # Telegram only to those who linked a chat (a reminder to the whole team)


async def run_rule(connection: asyncpg.Connection, rule: StoredRule, now: datetime, tz: ZoneInfo) -> list[Tell]:
    settings = rule.body.settings
    if isinstance(settings, CameraHealthRule):
        return await _camera_health(connection, rule, settings, now)
    if isinstance(settings, ProjectRule):
        return await _project(connection, rule, settings, now, tz)
    if isinstance(settings, TheftWatchRule):
        return await _theft_silence(connection, rule, settings, now)
    if isinstance(settings, ReminderRule):
        return await _reminder(connection, rule, settings)
    if isinstance(settings, DigestRule):
        return await _digest(connection, rule, now, tz)
    if isinstance(settings, SpeciesReportRule):
        return await _species_report(connection, rule, settings, now, tz)
    return []


async def fired(connection: asyncpg.Connection, prefix: str, problems: Mapping[str, str]) -> dict[str, str]:
    """Record the problems seen now under ``prefix``; the ones that are new (to alert about)."""
    before = await alerts.firing(connection, prefix)
    change = transition(frozenset(before), problems)
    for problem in change.clear:
        await alerts.clear_firing(connection, prefix + problem)
    for problem in change.fire:
        await alerts.set_firing(connection, prefix + problem, problems[problem])
    return {problem: problems[problem] for problem in sorted(change.fire)}


def _status(rule: StoredRule, key: str, title: str, lines: list[str], *, camera_id: int | None = None) -> Tell:
    return Tell(
        Message(
            key=key,
            kind="status",
            subject=title,
            payload={"title": title, "project": rule.project, "rule": rule.body.name, "lines": lines, "cleared": False},
            rule_id=rule.id,
            project_id=rule.project_id,
            camera_id=camera_id,
        ),
        (rule.user_id,),
        rule.body.channels,
    )


async def _camera_health(
    connection: asyncpg.Connection, rule: StoredRule, settings: CameraHealthRule, now: datetime
) -> list[Tell]:
    return await _per_camera(
        connection,
        rule,
        now,
        problems_of=lambda camera: health_problems(settings, camera, now),
        title=lambda camera: f"Camera {camera.name} needs attention",
    )


async def _per_camera(
    connection: asyncpg.Connection,
    rule: StoredRule,
    now: datetime,
    *,
    problems_of: Callable[[CameraState], Mapping[str, str]],
    title: Callable[[CameraState], str],
) -> list[Tell]:
    """One message per camera with problems that are new since the last run."""
    tells = []
    for camera in await summaries.camera_states(connection, rule.project_id):
        prefix = f"rule:{rule.id}:camera:{camera.camera_id}:"
        new = await fired(connection, prefix, problems_of(camera))
        if new:
            key = f"{prefix}{','.join(new)}:{now:%Y-%m-%dT%H:%M}"
            tells.append(_status(rule, key, title(camera), list(new.values()), camera_id=camera.camera_id))
    return tells


async def _project(
    connection: asyncpg.Connection, rule: StoredRule, settings: ProjectRule, now: datetime, tz: ZoneInfo
) -> list[Tell]:
    local_midnight = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    today = await summaries.images_per_camera(connection, rule.project_id, local_midnight, now)
    problems = {
        f"busy:{camera}:{local_midnight:%Y-%m-%d}": f"{camera}: {line}"
        for camera, line in busy_cameras(today, settings.max_images_per_camera_day).items()
    }
    silence = project_silence(await summaries.last_image_at(connection, rule.project_id), now, settings.silent_hours)
    if silence is not None:
        problems["silent"] = silence
    prefix = f"rule:{rule.id}:"
    new = await fired(connection, prefix, problems)
    if not new:
        return []
    return [
        _status(rule, f"{prefix}{now:%Y-%m-%dT%H:%M}", f"Project {rule.project} needs attention", list(new.values()))
    ]


async def _theft_silence(
    connection: asyncpg.Connection, rule: StoredRule, settings: TheftWatchRule, now: datetime
) -> list[Tell]:
    def silence(camera: CameraState) -> dict[str, str]:
        line = silent_against_rhythm(settings, camera, now)
        return {"silent": line} if line else {}

    return await _per_camera(
        connection,
        rule,
        now,
        problems_of=silence,
        title=lambda camera: f"Theft watch: camera {camera.name} went silent",
    )


async def _reminder(connection: asyncpg.Connection, rule: StoredRule, settings: ReminderRule) -> list[Tell]:
    members = await notifications.project_members(connection, rule.project_id)
    message = Message(
        key=f"rule:{rule.id}:reminder:{settings.on.isoformat()}",
        kind="reminder",
        subject=f"Reminder for {rule.project}: {settings.message[:80]}",
        payload={
            "project": rule.project,
            "message": settings.message,
            "date": settings.on.isoformat(),
            "by": rule.owner,
        },
        rule_id=rule.id,
        project_id=rule.project_id,
    )
    return [Tell(message, tuple(sorted({*members, rule.user_id})), rule.body.channels, only_linked=True)]


async def _digest(connection: asyncpg.Connection, rule: StoredRule, now: datetime, tz: ZoneInfo) -> list[Tell]:
    since, until = period_before(now, "daily", tz)
    figures = await summaries.day_figures(connection, rule.project_id, since, until)
    attention = []
    for camera in await summaries.camera_states(connection, rule.project_id):
        attention += [f"{camera.name}: {line}" for line in health_problems(CameraHealthRule(), camera, now).values()]
    day = since.astimezone(tz).date().isoformat()
    message = Message(
        key=f"rule:{rule.id}:digest:{day}",
        kind="digest",
        subject=f"{rule.project}: the day of {day}",
        payload={
            "date": day,
            "projects": [
                {
                    "name": rule.project,
                    "photos": figures.photos,
                    "events": {label: figures.events.get(label, 0) for label in ("animal", "person", "vehicle")},
                    "top_species": [{"name": name, "count": count} for name, count in figures.top_species],
                    "attention": attention,
                    "alerts": await notifications.counted_since(
                        connection, rule.user_id, rule.project_id, since, until
                    ),
                }
            ],
        },
        rule_id=rule.id,
        project_id=rule.project_id,
    )
    return [Tell(message, (rule.user_id,), rule.body.channels)]


async def _species_report(
    connection: asyncpg.Connection, rule: StoredRule, settings: SpeciesReportRule, now: datetime, tz: ZoneInfo
) -> list[Tell]:
    since, until = period_before(now, settings.period, tz)
    days = trap_days(await summaries.active_spans(connection, rule.project_id), since, until)
    rows = species_rows(await summaries.species_events(connection, rule.project_id, since, until), days)
    first, last = since.astimezone(tz).date(), (until - timedelta(seconds=1)).astimezone(tz).date()
    message = Message(
        key=f"rule:{rule.id}:report:{first.isoformat()}",
        kind="species_report",
        subject=f"{rule.project}: species {settings.period} report, {first} to {last}",
        payload={
            "project": rule.project,
            "period": settings.period,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "trap_days": round(days, 1),
            "rows": [
                {
                    "taxon": row.taxon,
                    "common_name": row.common_name,
                    "events": row.events,
                    "independent": row.independent,
                    "individuals": row.individuals,
                    "per_100_trap_days": round(row.per_100_trap_days, 2),
                    "best_image_id": row.best_image_id,
                    "photo_cid": f"species-{index}" if row.best_image_id else None,
                }
                for index, row in enumerate(rows)
            ],
        },
        rule_id=rule.id,
        project_id=rule.project_id,
    )
    return [Tell(message, (rule.user_id,), rule.body.channels)]
