"""What the map and camera pages share: how a camera's state reads, and re-checking rights in a handler."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from addax.domain.field_work import Activity, Condition, activity
from addax.ui.context import UiServices
from addax.ui.session import Viewer, current_viewer

ACTIVITY_WORDS = {Activity.RECENT: "seen < 24 h", Activity.STALE: "seen < 7 days", Activity.SILENT: "silent or never"}


def condition(row: dict[str, Any]) -> Condition:
    return Condition(
        status=row["status"],
        last_seen=row["last_seen_at"],
        battery_pct=row.get("battery_pct"),
        sd_free_mb=row.get("sd_free_mb"),
        signal_csq=row.get("signal_csq"),
    )


def activity_of(row: dict[str, Any], now: datetime) -> Activity:
    return activity(row["last_seen_at"], now)


def megabytes(value: int | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1024:.1f} GB" if value >= 1024 else f"{value} MB"


def or_dash(value: object, unit: str = "") -> str:
    return "–" if value is None else f"{value}{unit}"


async def fresh_viewer(services: UiServices, viewer: Viewer) -> Viewer:
    """The viewer's rights as they are now: a role may have changed since the page loaded; no rights at all once
    the session ended."""
    return await current_viewer(services.pool, viewer) or Viewer(user=viewer.user, roles={}, project_names={})
