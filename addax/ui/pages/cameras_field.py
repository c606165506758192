"""Field work on ``/cameras/{id}``: the reference photo of the install spot, the maintenance log and tags.

Project admins and annotators add entries, tags and photos; viewers read. The reference photo is served by
``/field-photos/{camera_id}`` with the same session check as the page.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import Response
from nicegui import app as nicegui_app
from nicegui import ui
from nicegui.events import UploadEventArguments

from addax.domain.days import local_today
from addax.domain.field_work import MAX_REFERENCE_PHOTO_BYTES, FieldWorkError, MaintenanceKind, check_reference_photo
from addax.store import field_work, projects
from addax.store.field_work import NotInProject
from addax.ui.context import UiServices
from addax.ui.session import Viewer, signed_in, verifying_projects, viewer_of
from addax.ui.tags import tag_row


def photo_url(camera_id: int, photo_id: int) -> str:
    return f"/field-photos/{camera_id}?v={photo_id}"  # a new photo is a new URL: no stale cache


def register(services: UiServices) -> None:
    @nicegui_app.get("/field-photos/{camera_id}", include_in_schema=False)
    async def reference_photo(camera_id: int) -> Response:
        user = await signed_in(services.pool, nicegui_app.storage.user)
        if user is None:
            return Response("sign in first", status_code=401)
        viewer = await viewer_of(services.pool, user)
        found = await field_work.reference_photo(services.pool, camera_id, projects=viewer.projects)
        if found is None:
            return Response("not found", status_code=404)
        try:
            data = await services.objects.read(found["object_key"])
        except FileNotFoundError:
            return Response("the photo is missing from the object store", status_code=404)
        headers = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return Response(data, media_type=found["content_type"], headers=headers)


async def _editors(services: UiServices, viewer: Viewer) -> list[int]:
    return await verifying_projects(services.pool, viewer)


async def section(services: UiServices, viewer: Viewer, camera: dict[str, Any]) -> None:
    camera_id, project = camera["id"], camera["project_id"]
    zone = await projects.timezone(services.pool, project)  # "today" is the project's, not the server's
    may_edit = viewer.can_verify(project)
    ui.label("Field work").classes("text-h6")

    # Refreshables of this page only (a module-level one would redraw every open page).
    @ui.refreshable
    async def photo() -> None:
        await _reference_photo(services, viewer, camera_id, may_edit, photo.refresh)

    @ui.refreshable
    async def tags() -> None:
        await _tags(services, viewer, camera_id, may_edit, tags.refresh)

    @ui.refreshable
    async def log() -> None:
        await _maintenance(services, viewer, camera_id, may_edit, log.refresh, zone=zone)

    with ui.grid().classes("grid-cols-1 md:grid-cols-2 gap-4 w-full items-start"):
        with ui.card().classes("w-full"):
            await photo()
        with ui.card().classes("w-full"):
            await tags()
    with ui.card().classes("w-full"):
        await log()


async def _reference_photo(
    services: UiServices, viewer: Viewer, camera_id: int, may_edit: bool, redraw: Callable[[], object]
) -> None:
    ui.label("Reference photo of the install spot").classes("text-subtitle1")
    found = await field_work.reference_photo(services.pool, camera_id, projects=viewer.projects)
    if found is not None:
        ui.image(photo_url(camera_id, found["id"])).classes("w-full rounded-borders").style("max-height: 320px")
        ui.label(f"{found['uploaded_at']:%Y-%m-%d} by {found['uploaded_by'] or 'a former user'}").classes(
            "text-caption text-grey-7"
        )
    else:
        ui.label("None yet: take one at the next visit, so the camera goes back the same way.").classes("text-grey-7")
    if not may_edit:
        return

    async def received(event: UploadEventArguments) -> None:
        projects = await _editors(services, viewer)
        if event.file.size() > MAX_REFERENCE_PHOTO_BYTES:
            ui.notify(f"The photo is larger than {MAX_REFERENCE_PHOTO_BYTES // (1024 * 1024)} MB.", type="warning")
            return
        data = await event.file.read()
        try:
            checked = await asyncio.to_thread(check_reference_photo, data)
        except FieldWorkError as refused:
            ui.notify(str(refused), type="warning")
            return
        key = f"reference/{camera_id}/{hashlib.sha256(data).hexdigest()}.{checked.extension}"
        try:
            # the row first: a refusal (rights gone) then leaves no file behind
            await field_work.add_reference_photo(
                services.pool, camera_id, projects=projects, object_key=key,
                content_type=checked.content_type, size_bytes=len(data), user_id=viewer.user.id,
            )  # fmt: skip
        except NotInProject:
            ui.notify("You may no longer change this camera.", type="warning")
            return
        await services.objects.put_bytes(key, data)
        ui.notify("Reference photo saved.", type="positive")
        upload.reset()
        redraw()

    upload = ui.upload(label="Upload a photo (JPEG or PNG)", auto_upload=True, on_upload=received,
              max_file_size=MAX_REFERENCE_PHOTO_BYTES).props("accept='image/jpeg,image/png' flat bordered").classes(
        "w-full"
    )  # fmt: skip


async def _tags(
    services: UiServices, viewer: Viewer, camera_id: int, may_edit: bool, redraw: Callable[[], object]
) -> None:
    async def add(text: str) -> None:
        await field_work.tag_camera(services.pool, camera_id, text, projects=await _editors(services, viewer))

    async def remove(tag: str) -> None:
        await field_work.untag_camera(services.pool, camera_id, tag, projects=await _editors(services, viewer))

    await tag_row(
        await field_work.camera_tags(services.pool, camera_id, projects=viewer.projects),
        editable=may_edit,
        add=add,
        remove=remove,
        redraw=redraw,
        example="solar panel",
    )


async def _maintenance(
    services: UiServices, viewer: Viewer, camera_id: int, may_edit: bool, redraw: Callable[[], object], *, zone: str
) -> None:
    ui.label("Maintenance log").classes("text-subtitle1")
    entries = await field_work.maintenance(services.pool, camera_id, projects=viewer.projects)
    if may_edit:
        _maintenance_form(services, viewer, camera_id, redraw, zone=zone)
    if not entries:
        ui.label("Nothing logged yet.").classes("text-grey-7")
        return
    with ui.list().props("dense separator").classes("w-full"):
        for entry in entries:
            with ui.item().classes("addax-maintenance"), ui.item_section():
                kind = MaintenanceKind(entry["kind"]).label
                ui.item_label(f"{entry['done_on'].isoformat()} · {kind}").classes("text-weight-medium")
                if entry["note"]:
                    ui.item_label(entry["note"]).classes("text-body2").style("white-space: pre-wrap")
                ui.item_label(f"by {entry['done_by_email']}").props("caption")


def _maintenance_form(
    services: UiServices, viewer: Viewer, camera_id: int, redraw: Callable[[], object], *, zone: str
) -> None:
    async def save() -> None:
        try:
            done_on = date.fromisoformat(day.value or "")
        except ValueError:
            ui.notify("Give the date as YYYY-MM-DD.", type="warning")
            return
        if done_on > local_today(zone):
            ui.notify("That date is in the future.", type="warning")
            return
        try:
            await field_work.add_maintenance(
                services.pool, camera_id, projects=await _editors(services, viewer), done_on=done_on,
                kind=MaintenanceKind(kind.value), note=note.value or "", user_id=viewer.user.id,
                email=viewer.user.email,
            )  # fmt: skip
        except FieldWorkError as refused:
            ui.notify(str(refused), type="warning")
            return
        except NotInProject:
            ui.notify("You may no longer change this camera.", type="warning")
            return
        ui.notify("Logged.", type="positive")
        redraw()

    with ui.row().classes("items-end gap-2 w-full"):
        day = ui.input("Date", value=local_today(zone).isoformat()).props("dense type=date").classes("w-40")
        kinds = {str(k): k.label for k in MaintenanceKind}
        kind = ui.select(kinds, value=str(MaintenanceKind.BATTERIES), label="What").props("dense").classes("w-36")
        note = ui.input("Note").props("dense maxlength=2000").classes("grow min-w-[10rem]")
        ui.button("Log it", on_click=save).props("dense")
