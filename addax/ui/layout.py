"""The frame of every signed-in page (header, menu, session check) and the decorator that makes a page.

``signed_in_page(services, "/gallery", "Gallery")`` turns ``async def body(viewer, request, ...)`` into a NiceGUI
page: a plain GET without a session is redirected to /login and back afterwards, the frame is drawn, and a
``NotFound`` raised by the body shows "not found" (the same for what does not exist and what is not the viewer's).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app as nicegui_app
from nicegui import ui

from addax.ui.context import UiServices
from addax.ui.session import NotFound, Session, Viewer, login_redirect, signed_in, viewer_of

PageBody = Callable[..., Awaitable[None]]

# (path, label, icon, who sees it in the menu)
MENU = [
    ("/", "Overview", "dashboard", "everyone"),
    ("/gallery", "Gallery", "photo_library", "everyone"),
    ("/map", "Map", "map", "everyone"),
    ("/cameras", "Cameras", "photo_camera", "everyone"),
    ("/insights", "Insights", "insights", "everyone"),
    ("/alerts", "Alerts", "notifications", "everyone"),
    ("/admin", "Admin", "admin_panel_settings", "admins"),
]


def signed_in_page(services: UiServices, path: str, title: str) -> Callable[[PageBody], PageBody]:
    def decorate(body: PageBody) -> PageBody:
        parameters = [  # path parameters, passed by name (so `image_id: int` needs no `*` before it)
            parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for name, parameter in inspect.signature(body).parameters.items()
            if name not in ("viewer", "request")
        ]

        async def page(request: Request, **params: Any) -> RedirectResponse | None:
            session = nicegui_app.storage.user
            user = await signed_in(services.pool, session)
            if user is None:
                return login_redirect(request)
            viewer = await viewer_of(services.pool, user)
            frame(services, session, viewer, title)
            try:
                await body(viewer, request, **params)
            except NotFound:
                ui.label("Not found: it does not exist, or it is not in your projects.").classes("text-h6 q-ma-md")
            watch_session(services, session)  # after the body: a timer makes the page wait for the browser
            return None

        request_parameter = inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request)
        page.__signature__ = inspect.Signature([request_parameter, *parameters])  # type: ignore[attr-defined]
        page.__name__ = body.__name__
        ui.page(path, title=f"{title} · {services.instance_name}")(page)
        return body

    return decorate


def frame(services: UiServices, session: Session, viewer: Viewer, title: str) -> None:
    """Header with the menu button, the page's title and the user; a menu drawer."""

    def sign_out() -> None:
        session.clear()
        ui.navigate.to("/login")

    ui.colors(primary="#5b6b3a", secondary="#8a7a55", accent="#c07a2c")
    # Open on a wide screen, folded on a phone: Quasar decides in the browser (show-if-above). The value is not
    # left to NiceGUI's default (None), which asks the browser on connect and fails a slow page after 1 s.
    drawer = ui.left_drawer(value=False, bordered=True).props("width=200 breakpoint=1023 show-if-above")
    with ui.header().classes("items-center justify-between q-py-xs"):
        with ui.row().classes("items-center no-wrap"):
            ui.button(icon="menu", on_click=lambda: drawer.run_method("toggle")).props(
                "flat round color=white aria-label=Menu"
            )
            ui.label(f"{services.instance_name}: {title}").classes("text-h6 ellipsis")
        with ui.row().classes("items-center no-wrap"):
            ui.label(viewer.user.email).classes("gt-xs")
            ui.button("Sign out", on_click=sign_out).props("flat color=white")
    with drawer:
        for target, label, icon, audience in MENU:
            if audience == "admins" and not (viewer.administered or viewer.is_server_admin):
                continue
            with ui.link(target=target).classes("no-underline text-grey-9 w-full"):
                with ui.row().classes("items-center q-pa-sm w-full hover:bg-grey-3 rounded-borders"):
                    ui.icon(icon)
                    ui.label(label)


def watch_session(services: UiServices, session: Session) -> None:
    """While the page is open, send it to /login once its user is disabled, deleted or given a new password."""

    async def check_session() -> None:
        if await signed_in(services.pool, session) is None:
            ui.navigate.to("/login")

    ui.timer(services.session_check_s, check_session)


def show_error_page(exception: Exception) -> None:
    """What a page that failed shows: a friendly line, never a traceback (the traceback goes to the log)."""
    with ui.column().classes("absolute-center items-center"):
        ui.icon("error_outline", size="xl", color="negative")
        ui.label("Something went wrong on this page. It was logged; try again, or tell your admin.")
        ui.link("Back to the overview", "/")
