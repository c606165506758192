"""Builds the dashboard: a login page backed by the same users and lockout as the API, and a status page.

NiceGUI keeps its pages in one global application, so ``build_ui`` is called once per process.

A session (NiceGUI's per-browser user storage) holds the user's id and a stamp of their password hash. Every
page load and, while a page is open, a timer every ``session_check_s`` seconds re-read the user: a user who
was disabled, deleted or given a new password is signed out and sent to /login. A page that needs a login
answers a plain GET without a session with an HTTP redirect to /login?next=<page>.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from nicegui import app as nicegui_app
from nicegui import ui
from nicegui.storage import Storage

from addax.domain.secrets import MAX_EMAIL_CHARS, MAX_PASSWORD_CHARS, password_stamp
from addax.runtime import ActorHealth
from addax.store import accounts
from addax.store.logins import LoginGuard, LoginRefused


@dataclass(frozen=True, slots=True)
class UiServices:
    logins: LoginGuard
    health: Callable[[], list[ActorHealth]]
    storage_dir: Path
    storage_secret: str
    pool: asyncpg.Pool
    instance_name: str = "Addax"
    session_check_s: float = 5.0  # how often an open page re-checks that its user may still be signed in


Session = MutableMapping[str, Any]


async def _signed_in(pool: asyncpg.Pool, session: Session) -> accounts.User | None:
    """The session's user while they exist, are enabled and keep the password they signed in with."""
    user_id = session.get("user_id")
    user = await accounts.user_by_id(pool, user_id) if isinstance(user_id, int) else None
    if user is None or user.disabled or session.get("password_stamp") != password_stamp(user.password_hash):
        if session:
            session.clear()
        return None
    return user


def _login_redirect(request: Request) -> RedirectResponse:
    path = request.url.path
    return RedirectResponse("/login" if path == "/" else f"/login?next={quote(path)}", status_code=303)


def _local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never //elsewhere or a full URL)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


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
    async def login_page(request: Request) -> RedirectResponse | None:
        session = nicegui_app.storage.user
        after = _local_path(request.query_params.get("next"))
        if await _signed_in(services.pool, session):
            return RedirectResponse(after, status_code=303)
        _login_form(services, session, address=request.client.host if request.client else "unknown", after=after)
        return None

    @ui.page("/")
    async def status_page(request: Request) -> RedirectResponse | None:
        session = nicegui_app.storage.user
        user = await _signed_in(services.pool, session)
        if user is None:
            return _login_redirect(request)
        _header(services, session, user, "status")
        _actor_table(services)
        return None

    ui.run_with(
        root,
        title=services.instance_name,
        storage_secret=services.storage_secret,
        show_welcome_message=False,
        reconnect_timeout=10,
    )
    return root


def _login_form(services: UiServices, session: Session, *, address: str, after: str) -> None:
    async def sign_in() -> None:
        if len(email.value) > MAX_EMAIL_CHARS or len(password.value) > MAX_PASSWORD_CHARS:
            refuse("wrong e-mail or password")  # no hashing for what cannot be anyone's login
            return
        button.disable()
        try:
            user = await services.logins.user(email.value.strip(), password.value, address=address)
        except LoginRefused as refused:
            refuse(str(refused))
            return
        finally:
            button.enable()
        session.update(
            user_id=user.id,
            email=user.email,
            server_admin=user.is_server_admin,
            password_stamp=password_stamp(user.password_hash),
        )
        ui.navigate.to(after)

    def refuse(text: str) -> None:
        message.set_text(text)
        message.set_visibility(True)

    with ui.card().classes("absolute-center w-96"):
        ui.label(f"{services.instance_name}: sign in").classes("text-h6")
        email = ui.input("E-mail").props("autofocus").classes("w-full")
        password = ui.input("Password", password=True, password_toggle_button=True).classes("w-full")
        password.on("keydown.enter", sign_in)
        message = ui.label("").classes("text-negative")
        message.set_visibility(False)
        button = ui.button("Sign in", on_click=sign_in).classes("w-full")


def _header(services: UiServices, session: Session, user: accounts.User, title: str) -> None:
    """The header of a signed-in page, with its sign-out button and the timer that re-checks the session."""

    def sign_out() -> None:
        session.clear()
        ui.navigate.to("/login")

    async def check_session() -> None:
        if await _signed_in(services.pool, session) is None:
            ui.navigate.to("/login")

    with ui.header().classes("items-center justify-between"):
        ui.label(f"{services.instance_name}: {title}").classes("text-h6")
        with ui.row().classes("items-center"):
            ui.label(user.email)
            ui.button("Sign out", on_click=sign_out).props("flat color=white")
    ui.timer(services.session_check_s, check_session)


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
