"""``/``: the overview."""

from __future__ import annotations

import time

from fastapi import Request
from nicegui import ui

from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.session import Viewer


def register(services: UiServices) -> None:
    @signed_in_page(services, "/", "Overview")
    async def overview(viewer: Viewer, request: Request) -> None:
        _actor_table(services)


def _ago(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    seconds = int(time.time() - timestamp)
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def _actor_table(services: UiServices) -> None:
    columns = [
        {"name": key, "label": label, "field": key, "align": "left"}
        for key, label in [
            ("name", "Actor"),
            ("state", "State"),
            ("restarts", "Restarts"),
            ("mailbox", "Mailbox"),
            ("last_success", "Last success"),
            ("last_error", "Last error"),
            ("detail", "Detail"),
        ]
    ]
    table = ui.table(columns=columns, rows=[], row_key="name").classes("w-full")

    def refresh() -> None:
        table.rows = [
            {
                "name": health.name,
                "state": "ok" if health.healthy else ("running, unhealthy" if health.alive else "down"),
                "restarts": health.restarts,
                "mailbox": f"{health.mailbox_depth}/{health.mailbox_capacity}" if health.mailbox_capacity else "-",
                "last_success": _ago(health.last_success_at),
                "last_error": health.last_error or "",
                "detail": health.detail or "",
            }
            for health in services.health()
        ]
        table.update()

    refresh()
    ui.timer(2.0, refresh)
