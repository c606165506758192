"""``/images/{id}``: one photo with its boxes, species, EXIF, camera, site and sequence, and its verification.

The photo is the original where it shows nobody or the viewer administers the project, else the annotated copy
(people and vehicles blurred). Annotators and admins verify (image_verify.py); viewers read.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from nicegui import events, ui

from addax.store import browse, field_work, photo_context, verifications
from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.media import media_url
from addax.ui.pages.image_photo import PhotoView
from addax.ui.pages.image_verify import VerifyPanel, species_label
from addax.ui.session import NotFound, Viewer, verifying_projects
from addax.ui.tags import tag_row

SHORTCUTS = [
    ("j  or  →", "next photo"),
    ("k  or  ←", "previous photo"),
    ("c", "confirm the model's species"),
    ("b", "show or hide the boxes"),
    ("d", "draw a box the model missed"),
]


def register(services: UiServices) -> None:
    @signed_in_page(services, "/images/{image_id}", "Photo")
    async def image_page(viewer: Viewer, request: Request, *, image_id: int) -> None:
        found = await browse.image(services.pool, image_id)
        if found is None or not viewer.can_see(found["project_id"]):
            raise NotFound
        project_id = found["project_id"]
        subject = await verifications.subject(services.pool, image_id)
        if subject is None:
            raise NotFound
        place = await photo_context.place(
            services.pool,
            camera_id=found["camera_id"],
            site_id=found["site_id"],
            deployment_id=found["deployment_id"],
        )
        near = await photo_context.neighbours(
            services.pool, project_id=project_id, image_id=image_id, event_id=found["event_id"]
        )
        known = await _known_species(services, found)
        blurred = found["kind"] != "photo" or (
            not viewer.admin_of(project_id) and await browse.shows_people(services.pool, image_id)
        )
        editable = viewer.can_verify(project_id)

        _navigation(found, near, viewer, known)
        with ui.element("div").classes("row q-col-gutter-md w-full q-pa-sm"):
            with ui.element("div").classes("col-12 col-md-8"):
                if blurred:
                    ui.label(
                        "People and vehicles are blurred in this copy; only the project's admins see the original."
                    ).classes("text-caption bg-amber-2 q-pa-xs rounded-borders q-mb-xs")
                panel: VerifyPanel | None = None

                def drawn(bbox: tuple[float, float, float, float]) -> None:
                    if panel is not None:
                        panel.add_box(bbox)

                photo = PhotoView(media_url(image_id, "annotated" if blurred else "original"), on_drawn=drawn)
                switch = ui.switch("Boxes (b)", value=True, on_change=lambda e: _set_boxes(photo, e.value))
                _sequence(image_id, near)
                _shortcut_help(editable)
            with ui.element("div").classes("col-12 col-md-4 column q-gutter-y-sm"):
                panel = VerifyPanel(
                    services,
                    viewer,
                    subject=subject,
                    current=found["verification"],
                    known=known,
                    photo=photo,
                    editable=editable,
                )
                _model_boxes(found, subject.threshold)
                with ui.card().classes("w-full q-pa-sm"):
                    await _tags(services, viewer, image_id, editable)
                _details(found, place, viewer)

        _shortcuts(near, switch, photo, panel if editable else None)


async def _tags(services: UiServices, viewer: Viewer, image_id: int, editable: bool) -> None:
    """Free tags on the photo ("collared", "for the report" ...); admins and annotators add them."""

    async def add(text: str) -> None:
        await field_work.tag_image(
            services.pool, image_id, text, projects=await verifying_projects(services.pool, viewer)
        )

    async def remove(tag: str) -> None:
        await field_work.untag_image(
            services.pool, image_id, tag, projects=await verifying_projects(services.pool, viewer)
        )

    @ui.refreshable
    async def row() -> None:
        tags = await field_work.image_tags(services.pool, image_id, projects=viewer.projects)
        await tag_row(tags, editable=editable, add=add, remove=remove, redraw=row.refresh, example="collared")

    await row()


def _shortcuts(near: photo_context.Neighbours, switch: ui.switch, photo: PhotoView, panel: VerifyPanel | None) -> None:
    """The keys of SHORTCUTS; ``panel`` None: the viewer may not verify (no c, no d)."""

    async def key(event: events.KeyEventArguments) -> None:
        if not event.action.keydown or event.action.repeat or event.modifiers.ctrl or event.modifiers.meta:
            return
        name = str(event.key.name)
        if name in ("j", "ArrowRight") and near.next is not None:
            ui.navigate.to(f"/images/{near.next}")
        elif name in ("k", "ArrowLeft") and near.previous is not None:
            ui.navigate.to(f"/images/{near.previous}")
        elif name == "b":
            switch.set_value(not switch.value)
        elif name == "c" and panel is not None:
            await panel.confirm()
        elif name == "d" and panel is not None:
            photo.draw(True)

    ui.keyboard(on_key=key)


async def _known_species(services: UiServices, found: dict[str, Any]) -> dict[str, str | None]:
    """Taxon -> common name for the species select: the project's, and every model's top-5 for this photo."""
    known = dict(await verifications.known_species(services.pool, found["project_id"]))
    for row in found["classifications"]:
        known.setdefault(row["taxon"], row["common_name"])
    return known


def _set_boxes(photo: PhotoView, visible: bool) -> None:
    if photo.visible != visible:
        photo.toggle()


def _navigation(
    found: dict[str, Any], near: photo_context.Neighbours, viewer: Viewer, known: dict[str, str | None]
) -> None:
    with ui.row().classes("w-full items-center justify-between no-wrap q-px-sm q-pt-sm"):
        ui.button(icon="chevron_left", on_click=lambda: ui.navigate.to(f"/images/{near.previous}")).props(
            f"flat round aria-label='Previous photo (k)' {'disable' if near.previous is None else ''}"
        )
        with ui.column().classes("items-center gap-0 min-w-0"):
            ui.label(found["original_name"]).classes("text-subtitle1 ellipsis")
            taxa = (
                ", ".join(known.get(taxon) or taxon for taxon in found["taxa"])
                or ", ".join(found["labels"])
                or "nothing detected"
            )
            ui.label(f"{viewer.project_names.get(found['project_id'], '')} · {taxa}").classes(
                "text-caption text-grey-8 ellipsis"
            )
        ui.button(icon="chevron_right", on_click=lambda: ui.navigate.to(f"/images/{near.next}")).props(
            f"flat round aria-label='Next photo (j)' {'disable' if near.next is None else ''}"
        )


def _sequence(image_id: int, near: photo_context.Neighbours) -> None:
    if len(near.sequence) < 2:
        return
    ui.label(f"Its sequence: {len(near.sequence)} photos").classes("text-caption text-grey-8 q-mt-sm")
    with ui.row().classes("no-wrap gap-1 overflow-auto w-full q-pb-xs"):
        for other, _taken in near.sequence:
            border = "border-2 border-solid border-amber-8" if other == image_id else ""
            with ui.link(target=f"/images/{other}").classes("shrink-0"):
                ui.image(media_url(other, "thumbnail")).classes(f"w-24 h-16 rounded-borders {border}").props(
                    f"fit=cover alt='photo {other}'"
                )


def _shortcut_help(editable: bool) -> None:
    with ui.expansion("Keyboard shortcuts", icon="keyboard").classes("w-full text-caption"):
        for keys, what in SHORTCUTS:
            if not editable and keys in ("c", "d"):
                continue
            with ui.row().classes("gap-2"):
                ui.label(keys).classes("text-weight-bold w-20")
                ui.label(what)


def _model_boxes(found: dict[str, Any], threshold: float) -> None:
    by_box: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in found["classifications"]:
        by_box[row["detection"]][row["model"]].append(row)
    with ui.card().classes("w-full q-pa-sm"):
        ui.label("What the models saw").classes("text-subtitle1 text-weight-medium")
        if not found["detections"]:
            ui.label("No boxes.").classes("text-caption")
        for detection in found["detections"]:
            faint = "text-grey-6" if detection["score"] < threshold else ""
            ui.label(f"Box {detection['index'] + 1}: {detection['label']} {detection['score']:.0%}").classes(
                f"text-weight-medium {faint}"
            )
            for model, ranked in by_box[detection["index"]].items():
                top = ", ".join(f"{species_label(r['taxon'], r['common_name'])} {r['score']:.0%}" for r in ranked[:5])
                ui.label(f"{model}: {top}").classes(f"text-caption {faint}")


def _details(found: dict[str, Any], place: photo_context.Place, viewer: Viewer) -> None:
    with ui.card().classes("w-full q-pa-sm"):
        ui.label("Where and when").classes("text-subtitle1 text-weight-medium")
        with ui.grid(columns="auto 1fr").classes("gap-x-3 gap-y-1 text-body2"):
            ui.label("Taken")
            ui.label(_local_time(found["taken_at"], found["utc_offset_minutes"]))
            ui.label("Camera")
            if place.camera_id is not None:
                ui.link(place.camera_name or f"camera {place.camera_id}", f"/cameras/{place.camera_id}")
            else:
                ui.label("unknown")
            ui.label("Site")
            ui.label(place.site_name or "none")
            ui.label("Deployment")
            ui.label(
                f"{place.deployment_starts} – {place.deployment_ends or 'now'}" if place.deployment_starts else "none"
            )
            ui.label("Project")
            ui.label(viewer.project_names.get(found["project_id"], str(found["project_id"])))
            ui.label("Received")
            ui.label(f"{found['received_at']:%Y-%m-%d %H:%M} UTC")
            ui.label("Stage")
            ui.label(found["stage"] + (f" ({found['reject_reason']})" if found["reject_reason"] else ""))
        exif = {key: value for key, value in (found["exif"] or {}).items() if not key.startswith("reject_")}
        with ui.expansion(f"EXIF ({len(exif)} fields)", icon="info").classes("w-full"):
            with ui.grid(columns="auto 1fr").classes("gap-x-3 text-caption"):
                for key, value in sorted(exif.items()):
                    ui.label(key).classes("text-weight-medium")
                    ui.label(str(value)).classes("break-all")


def _local_time(taken_at: datetime | None, offset_minutes: int | None) -> str:
    """The camera's own clock: what a ranger reads on the photo's stamp."""
    if taken_at is None:
        return "unknown"
    if offset_minutes is None:
        return f"{taken_at:%Y-%m-%d %H:%M:%S} UTC"
    local = taken_at + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{local:%Y-%m-%d %H:%M:%S} (UTC{sign}{hours:02d}:{minutes:02d}, camera time)"
