"""``/admin``: for server and project admins, each seeing and changing only the projects they administer.

Every tab reads with the projects the viewer administers; every button re-reads the viewer's roles before it
changes anything (a role may have been taken away since the page loaded). Others get no admin controls.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.pages.admin_access import access_tab
from addax.ui.pages.admin_people import projects_tab, users_tab
from addax.ui.pages.admin_system import system_tab
from addax.ui.pages.admin_work import problems_tab
from addax.ui.session import Viewer

TABS = (
    ("users", "Users", "group", users_tab),
    ("projects", "Projects", "folder", projects_tab),
    ("access", "Upload access", "vpn_key", access_tab),
    ("problems", "Problems", "report_problem", problems_tab),
    ("system", "Models and storage", "memory", system_tab),
)


def register(services: UiServices) -> None:
    @signed_in_page(services, "/admin", "Admin")
    async def admin(viewer: Viewer, request: Request) -> None:
        if not (viewer.administered or viewer.is_server_admin):
            ui.label("Not found: only project and server admins use this page.").classes("text-h6 q-ma-md")
            return
        chosen = request.query_params.get("tab")
        first = chosen if chosen in {name for name, *_ in TABS} else TABS[0][0]
        with ui.tabs().props("dense inline-label outside-arrows mobile-arrows").classes("w-full") as tabs:
            handles = {name: ui.tab(name, label=label, icon=icon) for name, label, icon, _ in TABS}
        with ui.tab_panels(tabs, value=handles[first], animated=False).classes("w-full"):
            for name, _, _, build in TABS:
                with ui.tab_panel(handles[name]).classes("q-pa-sm"):
                    await build(services, viewer)
