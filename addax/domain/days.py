"""Days as people mean them: in a project's time zone, not the server's (a photo at 00:30 in Berlin is today's)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_day(text: str | None) -> date | None:
    """A day written 2026-05-01 (a URL's or a date input's); None when there is none or it cannot be read."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def local_today(zone: str, now: datetime | None = None) -> date:
    """The date in ``zone`` at ``now`` (default: this instant)."""
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).date()


def local_midnight(zone: str, now: datetime | None = None) -> datetime:
    """The instant today began in ``zone``."""
    return start_of(local_today(zone, now), zone)


def start_of(day: date, zone: str) -> datetime:
    """The instant ``day`` begins in ``zone``."""
    return datetime.combine(day, time(), ZoneInfo(zone))


def day_range(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """From the first day's midnight to the midnight after the last, in ``zone``."""
    return start_of(first, zone), start_of(last + timedelta(days=1), zone)
