"""The camera-updates feed on ``/cameras`` with the corrections the API offers ("not moved", reassign, rename a
site, place by hand), and the projects' site groups. Controls are drawn for the admins of each camera's project
only, and every handler asks the database again whether its user still is one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from addax.domain.days import local_today
from addax.store import browse, cameras, field_work, placement, projects
from addax.store.field_work import DuplicateName, NotInProject
from addax.store.placement import PlacementError
from addax.ui.context import UiServices
from addax.ui.formatting import ago
from addax.ui.pages.cameras_common import fresh_viewer
from addax.ui.session import Viewer

KIND_WORDS = {
    "registered": "new camera",
    "first_placement": "placed",
    "moved": "moved",
    "outlier_held": "far-away reading held",
    "late_reading": "late reading",
    "manual_placement": "placed by hand",
    "reassigned": "deployment reassigned",
    "not_moved": "move undone",
    "edited": "edited",
}


async def feed(services: UiServices, viewer: Viewer, known: dict[int, dict[str, Any]]) -> None:
    updates = await browse.camera_updates(services.pool, projects=viewer.projects, limit=50)
    ui.label("Camera updates").classes("text-h6 q-mt-md")
    if not updates:
        ui.label("Nothing yet: what the system decides about cameras (new, moved, placed) shows here.")
        return
    now = datetime.now(UTC)
    with ui.list().props("bordered separator").classes("w-full rounded-borders"):
        for update in updates:
            camera = known.get(update["camera_id"], {})
            with ui.item(), ui.item_section():
                with ui.row().classes("items-center gap-2"):
                    ui.link(camera.get("name", f"camera {update['camera_id']}"), f"/cameras/{update['camera_id']}")
                    ui.badge(KIND_WORDS.get(update["kind"], update["kind"]), color="secondary")
                    if update["resolved_at"] is not None:
                        ui.badge("resolved", color="grey")
                    ui.label(ago(update["created_at"], now)).classes("text-caption text-grey-7")
                if summary := update["details"].get("summary"):
                    ui.label(summary).classes("text-body2")
                if viewer.admin_of(update["project_id"]):
                    _corrections(services, viewer, update)


def _corrections(services: UiServices, viewer: Viewer, update: dict[str, Any]) -> None:
    details = update["details"]
    deployment = details.get("opened_deployment_id") or details.get("deployment_id")
    with ui.row().classes("gap-1"):
        if update["kind"] == "moved" and update["resolved_at"] is None:
            ui.button("Not moved", on_click=lambda: _not_moved(services, viewer, update)).props("dense outline")
        if deployment:
            ui.button("Reassign", on_click=lambda: _reassign(services, viewer, update, deployment)).props(
                "dense outline"
            )
        if details.get("site_id"):
            ui.button("Rename site", on_click=lambda: rename_site(services, viewer, details["site_id"])).props(
                "dense outline"
            )
        ui.button("Place by hand", on_click=lambda: place_by_hand(services, viewer, update["camera_id"])).props(
            "dense outline"
        )


async def _admin_of_owner(services: UiServices, viewer: Viewer, thing: browse.Owned, thing_id: int) -> int | None:
    """The thing's project when the viewer administers it now; else tell them and None."""
    project = await browse.project_of(services.pool, thing, thing_id)
    if project is None or not (await fresh_viewer(services, viewer)).admin_of(project):
        ui.notify("Only this project's admins make corrections.", type="warning")
        return None
    return project


async def approve(services: UiServices, viewer: Viewer, row: dict[str, Any]) -> None:
    """Approve a pending camera (status active), as PATCH /api/cameras/{id} does."""
    now_viewer = await fresh_viewer(services, viewer)
    if not now_viewer.admin_of(row["project_id"]):
        ui.notify("Only this project's admins approve cameras.", type="warning")
        return
    await cameras.edit_audited(services.pool, row["id"], by=viewer.user.email, status="active")
    services.events.publish("camera.updated", {"id": row["id"], "project_id": row["project_id"], "change": "edited"})
    ui.notify(f"{row['name']} approved.", type="positive")
    ui.navigate.reload()


async def _not_moved(services: UiServices, viewer: Viewer, update: dict[str, Any]) -> None:
    if await _admin_of_owner(services, viewer, browse.Owned.CAMERA_UPDATE, update["id"]) is None:
        return
    try:
        result = await placement.undo_move(services.pool, update["id"], by=viewer.user.email)
    except PlacementError as refused:
        ui.notify(str(refused), type="warning")
        return
    ui.notify(f"Move undone; {result['images_moved']} photos went back to the earlier deployment.", type="positive")
    ui.navigate.reload()


async def _reassign(services: UiServices, viewer: Viewer, update: dict[str, Any], deployment: int) -> None:
    project = await _admin_of_owner(services, viewer, browse.Owned.DEPLOYMENT, deployment)
    if project is None:
        return
    sites = {s["id"]: s["name"] for s in await browse.sites(services.pool, projects=[project])}
    with ui.dialog() as dialog, ui.card().classes("w-80"):
        ui.label("Move this deployment and its photos to another site").classes("text-subtitle1")
        choice = ui.select(sites, label="Site").classes("w-full")
        with ui.row():
            ui.button("Move", on_click=lambda: dialog.submit(choice.value))
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat")
    site_id = await dialog
    if site_id is None or await _admin_of_owner(services, viewer, browse.Owned.DEPLOYMENT, deployment) is None:
        return
    try:
        moved = await placement.reassign(services.pool, deployment, site_id, by=viewer.user.email)
    except PlacementError as refused:
        ui.notify(str(refused), type="warning")
        return
    ui.notify(f"Deployment moved to {sites[site_id]}; {moved} photos with it.", type="positive")
    ui.navigate.reload()


async def rename_site(services: UiServices, viewer: Viewer, site_id: int) -> None:
    if await _admin_of_owner(services, viewer, browse.Owned.SITE, site_id) is None:
        return
    with ui.dialog() as dialog, ui.card().classes("w-80"):
        ui.label("Rename the site").classes("text-subtitle1")
        name = ui.input("New name").classes("w-full").props("autofocus maxlength=80")
        with ui.row():
            ui.button("Rename", on_click=lambda: dialog.submit(name.value))
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat")
    new_name = ((await dialog) or "").strip()
    if not new_name or await _admin_of_owner(services, viewer, browse.Owned.SITE, site_id) is None:
        return
    try:
        await placement.rename_site(services.pool, site_id, new_name, by=viewer.user.email)
    except PlacementError as refused:
        ui.notify(str(refused), type="warning")
        return
    ui.notify(f"Site renamed to {new_name}.", type="positive")
    ui.navigate.reload()


async def place_by_hand(services: UiServices, viewer: Viewer, camera_id: int) -> None:
    """Put a camera (one without GPS, say) on a site from a date on."""
    project = await _camera_admin(services, viewer, camera_id)
    if project is None:
        return
    sites = await browse.sites(services.pool, projects=[project])
    located = {s["id"]: s["name"] for s in sites if s["latitude"] is not None}
    with ui.dialog() as dialog, ui.card().classes("w-80"):
        ui.label("Place the camera on a site").classes("text-subtitle1")
        choice = ui.select(located, label="Site").classes("w-full")
        today = local_today(await projects.timezone(services.pool, project))
        starts = ui.input("From (YYYY-MM-DD)", value=today.isoformat()).classes("w-full")
        with ui.row():
            ui.button("Place", on_click=lambda: dialog.submit((choice.value, starts.value)))
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat")
    answer = await dialog
    if not answer or answer[0] is None or await _camera_admin(services, viewer, camera_id) is None:
        return
    try:
        await placement.place(services.pool, camera_id, answer[0], answer[1], by=viewer.user.email)
    except PlacementError as refused:
        ui.notify(str(refused), type="warning")
        return
    services.events.publish("camera.updated", {"id": camera_id, "project_id": project, "change": "manual_placement"})
    ui.notify(f"Placed on {located[answer[0]]} from {answer[1]}.", type="positive")
    ui.navigate.reload()


async def _camera_admin(services: UiServices, viewer: Viewer, camera_id: int) -> int | None:
    now_viewer = await fresh_viewer(services, viewer)
    found = await browse.cameras(services.pool, projects=now_viewer.administered, camera_id=camera_id)
    if not found:
        ui.notify("Only this project's admins make corrections.", type="warning")
        return None
    return int(found[0]["project_id"])


async def site_groups(services: UiServices, viewer: Viewer) -> None:
    groups = await field_work.site_groups(services.pool, projects=viewer.projects)
    administered = viewer.administered
    if not groups and not administered:
        return
    ui.label("Site groups").classes("text-h6 q-mt-md")
    for group in groups:
        with ui.row().classes("items-center gap-1 w-full"):
            ui.label(f"{group['name']}").classes("text-weight-medium")
            ui.label(f"({viewer.project_names.get(group['project_id'], '')})").classes("text-caption text-grey-7")
            for site in group["site_names"]:
                ui.chip(site, icon="place").props("dense outline")
            if group["project_id"] in administered:
                ui.button(icon="edit", on_click=lambda g=group: _edit_group(services, viewer, g)).props(
                    "flat dense round aria-label='Edit group'"
                )
    if administered:
        ui.button("New site group", icon="add", on_click=lambda: _edit_group(services, viewer, None)).props(
            "outline dense"
        )


async def _edit_group(services: UiServices, viewer: Viewer, group: dict[str, Any] | None) -> None:
    administered = {p: viewer.project_names[p] for p in viewer.administered}
    sites = await browse.sites(services.pool, projects=list(administered))
    with ui.dialog() as dialog, ui.card().classes("w-96").style("max-width: 92vw"):
        ui.label("Site group").classes("text-subtitle1")
        first = next(iter(administered))
        project = ui.select(administered, label="Project", value=group["project_id"] if group else first)
        project.classes("w-full").set_enabled(group is None)
        name = ui.input("Name", value=group["name"] if group else "").classes("w-full").props("maxlength=80")
        name.set_enabled(group is None)

        def sites_of(project_id: int) -> dict[int, str]:
            return {s["id"]: s["name"] for s in sites if s["project_id"] == project_id}

        members = (
            ui.select(
                sites_of(project.value),
                label="Sites",
                multiple=True,
                value=group["site_ids"] if group else [],
            )
            .classes("w-full")
            .props("use-chips")
        )
        project.on_value_change(lambda e: members.set_options(sites_of(e.value), value=[]))
        with ui.row():
            ui.button("Save", on_click=lambda: dialog.submit("save"))
            if group is not None:
                ui.button("Delete group", on_click=lambda: dialog.submit("delete")).props("flat color=negative")
            ui.button("Cancel", on_click=lambda: dialog.submit(None)).props("flat")
    action = await dialog
    if action is None:
        return
    allowed = (await fresh_viewer(services, viewer)).administered
    try:
        if action == "delete" and group is not None:
            await field_work.delete_site_group(services.pool, group["id"], projects=allowed)
        else:
            chosen = list(members.value or [])
            if group is None:
                await field_work.create_site_group(
                    services.pool, project.value, name.value or "", chosen, projects=allowed
                )
            else:
                await field_work.set_group_sites(services.pool, group["id"], chosen, projects=allowed)
    except (NotInProject, DuplicateName) as refused:
        ui.notify(
            str(refused) if isinstance(refused, DuplicateName) else "Pick sites of the group's project.", type="warning"
        )
        return
    ui.navigate.reload()
