"""When and whether a notification goes out: who may receive it, how retries back off, when a rule runs next."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from addax.domain.alerts import (
    CameraHealthRule,
    DetectionRule,
    DigestRule,
    ProjectRule,
    ReminderRule,
    Settings,
    SpeciesReportRule,
    TheftWatchRule,
)
from addax.domain.schedules import next_daily, next_every, next_monthly, next_on, next_weekly

#: How often the checks that are not at a time of day look again.
PROJECT_CHECK_EVERY = timedelta(hours=1)
THEFT_CHECK_EVERY = timedelta(minutes=15)


def suppressed_reason(enabled: bool, allowed: Sequence[str], recipient: str) -> str | None:
    """Why a notification is not sent at all (a test copy must never message real people), or None."""
    if not enabled:
        return "notifications.enabled is false"
    if allowed and recipient.casefold() not in {entry.strip().casefold() for entry in allowed}:
        return "not in notifications.allowed_recipients"
    return None


def retry_delay_s(attempts: int, base_s: float, *, cap_s: float = 3600.0) -> float:
    """Exponential backoff after ``attempts`` failed tries: base, 2 x base, 4 x base ... at most ``cap_s``."""
    return float(min(base_s * 2 ** max(attempts - 1, 0), cap_s))


def next_run(settings: Settings, after: datetime, tz: ZoneInfo, *, first: bool = False) -> datetime | None:
    """When a rule's scheduled check runs next, after ``after``; None for rules matched per photo and for a
    reminder already sent (``first``: the rule was just made or changed, it has not run yet).

    Computed from the time the last run finished (not from when it was due), so runs missed while the
    service was down collapse into one.
    """
    match settings:
        case DetectionRule():
            return None
        case CameraHealthRule(at=at) | DigestRule(at=at):
            return next_daily(after, at, tz)
        case ProjectRule():
            return next_every(after, PROJECT_CHECK_EVERY)
        case TheftWatchRule():
            return next_every(after, THEFT_CHECK_EVERY)
        case ReminderRule(on=day, at=at):
            if not first or after.astimezone(tz).date() > day:
                return None
            return max(next_on(day, at, tz), after)  # set later that same day: sent at once
        case SpeciesReportRule(period="monthly", at=at):
            return next_monthly(after, at, tz)
        case SpeciesReportRule(at=at):
            return next_weekly(after, at, tz)
    raise ValueError(f"no timetable for {type(settings).__name__}")
