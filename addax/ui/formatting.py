"""How the pages write times for people: one wording everywhere."""

from __future__ import annotations

from datetime import UTC, datetime


def ago(moment: datetime | float | None, now: datetime | None = None) -> str:
    """ "3 min ago" of an instant (a datetime, or seconds since the epoch); "never" for None."""
    if moment is None:
        return "never"
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, UTC)
    seconds = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"
