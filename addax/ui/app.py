"""Builds the dashboard: a login page backed by the same users and lockout as the API, and a status page.

NiceGUI keeps its pages in one global application, so ``build_ui`` is called once per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from nicegui import app as nicegui_app
from nicegui import ui
from nicegui.storage import Storage

from addax.runtime import ActorHealth
from addax.store.logins import LoginGuard, LoginRefused


@dataclass(frozen=True, slots=True)
class UiServices:
    logins: LoginGuard
    health: Callable[[], list[ActorHealth]]
    storage_dir: Path
    storage_secret: str
    instance_name: str = "Addax"


def _logged_in() -> bool:
    return bool(nicegui_app.storage.user.get("user_id"))


def _ago(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    seconds = int(time.time() - timestamp)
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def build_ui(services: UiServices) -> FastAPI:
    Storage.path = services.storage_dir
    services.storage_dir.mkdir(parents=True, exist_ok=True)
    root = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @ui.page("/login")
    def login_page(request: Request) -> None:
        if _logged_in():
            ui.navigate.to("/")
            return
        address = request.client.host if request.client else "unknown"

        async def sign_in() -> None:
            button.disable()
            try:
                user = await services.logins.user(email.value.strip(), password.value, address=address)
            except LoginRefused as refused:
                message.set_text(str(refused))
                message.set_visibility(True)
                return
            finally:
                button.enable()
            nicegui_app.storage.user.update(user_id=user.id, email=user.email, server_admin=user.is_server_admin)
            ui.navigate.to("/")

        with ui.card().classes("absolute-center w-96"):
            ui.label(f"{services.instance_name}: sign in").classes("text-h6")
            email = ui.input("E-mail").props("autofocus").classes("w-full")
            password = ui.input("Password", password=True, password_toggle_button=True).classes("w-full")
            password.on("keydown.enter", sign_in)
            message = ui.label("").classes("text-negative")
            message.set_visibility(False)
            button = ui.button("Sign in", on_click=sign_in).classes("w-full")

    @ui.page("/")
    def status_page() -> None:
        if not _logged_in():
            ui.navigate.to("/login")
            return

        def sign_out() -> None:
            nicegui_app.storage.user.clear()
            ui.navigate.to("/login")

        with ui.header().classes("items-center justify-between"):
            ui.label(f"{services.instance_name}: status").classes("text-h6")
            with ui.row().classes("items-center"):
                ui.label(nicegui_app.storage.user.get("email", ""))
                ui.button("Sign out", on_click=sign_out).props("flat color=white")
        columns = [
            {"name": key, "label": label, "field": key, "align": "left"}
            for key, label in [
                ("name", "Actor"),
                ("state", "State"),
                ("restarts", "Restarts"),
                ("mailbox", "Mailbox"),
                ("last_success", "Last success"),
                ("last_error", "Last error"),
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
                }
                for health in services.health()
            ]
            table.update()

        refresh()
        ui.timer(2.0, refresh)

    ui.run_with(
        root,
        title=services.instance_name,
        storage_secret=services.storage_secret,
        show_welcome_message=False,
        reconnect_timeout=10,
    )
    return root
