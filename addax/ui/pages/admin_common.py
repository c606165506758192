"""What the admin page's tabs share: the viewer as the database says now, and a secret shown once."""

from __future__ import annotations

from datetime import datetime

from nicegui import ui

from addax.store import accounts
from addax.ui.context import UiServices
from addax.ui.session import Viewer, current_viewer

ASSIGNABLE_ROLES = {
    accounts.Role.PROJECT_ADMIN.value: "project admin",
    accounts.Role.ANNOTATOR.value: "annotator",
    accounts.Role.VIEWER.value: "viewer",
}


async def fresh(services: UiServices, viewer: Viewer) -> Viewer | None:
    """The viewer's rights now: a role may have been taken away since the page loaded (None: signed out)."""
    return await current_viewer(services.pool, viewer)


async def admin_of(services: UiServices, viewer: Viewer, project_id: int | None) -> Viewer | None:
    """The fresh viewer when they administer ``project_id`` now; otherwise the user is told and None."""
    now = await fresh(services, viewer)
    if now is None or not now.admin_of(project_id):
        ui.notify("Only an admin of that project may do this.", type="negative")
        return None
    return now


async def server_admin(services: UiServices, viewer: Viewer) -> Viewer | None:
    now = await fresh(services, viewer)
    if now is None or not now.is_server_admin:
        ui.notify("Only a server admin may do this.", type="negative")
        return None
    return now


def show_once(title: str, secret: str, note: str) -> None:
    """A dialog with a new password or token: it is not stored anywhere it could be shown again."""
    with ui.dialog() as dialog, ui.card().classes("w-full").style("max-width: 36rem"):
        ui.label(title).classes("text-h6")
        ui.label(note).classes("text-body2")
        ui.input(value=secret).props("readonly outlined dense aria-label=Secret").classes("w-full font-mono")
        with ui.row().classes("w-full justify-end"):
            ui.button("Copy", icon="content_copy", on_click=lambda: ui.clipboard.write(secret)).props("flat")
            ui.button("Done", on_click=dialog.close)
    dialog.props("persistent")
    dialog.on("hide", dialog.delete)
    dialog.open()


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def project_choices(viewer: Viewer) -> dict[int, str]:
    return {project: viewer.project_names.get(project, str(project)) for project in viewer.administered}


def section(title: str) -> None:
    ui.label(title).classes("text-subtitle1 text-weight-medium q-mt-md")


def empty(text: str) -> None:
    ui.label(text).classes("text-grey-7 q-pa-sm")
