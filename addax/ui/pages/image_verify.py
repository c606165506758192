"""The verification panel of the image page: confirm, correct each box's species and count, mark blank, add a
missed box, notes. Saved through the same parser and store function as ``PATCH /api/images/{id}/verification``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from nicegui import ui

from addax.domain.verification import LABELS, VerificationError, parse_verification, species_from_text
from addax.store import verifications
from addax.ui.context import UiServices
from addax.ui.pages.image_photo import BBox, DrawnBox, PhotoView
from addax.ui.session import Viewer, current_viewer

log = logging.getLogger("addax.ui")


@dataclass(frozen=True, slots=True)
class Row:
    """One box as the person sees it: a model box (kept or not) or one they added."""

    detection: int | None
    label: str
    species: str | None  # what the species select holds: a taxon, or what was typed
    count: int
    bbox: BBox | None
    keep: bool = True
    caption: str = ""  # "box 1, animal 93%"


def species_label(taxon: str, common_name: str | None) -> str:
    return f"{common_name} ({taxon})" if common_name else taxon


class VerifyPanel:
    def __init__(
        self,
        services: UiServices,
        viewer: Viewer,
        *,
        subject: verifications.Subject,
        current: dict[str, Any] | None,
        known: dict[str, str | None],
        photo: PhotoView,
        editable: bool,
    ) -> None:
        self.services, self.viewer, self.subject, self.photo = services, viewer, subject, photo
        self.known, self.current, self.editable = known, current, editable
        self.rows = _rows(subject, current)
        self.blank = bool(current and current["blank"])
        self.notes = current["notes"] if current else ""
        self.options = {taxon: species_label(taxon, name) for taxon, name in known.items()}
        with ui.card().classes("w-full q-pa-sm"):
            ui.label("Verification").classes("text-subtitle1 text-weight-medium")
            self.summary = ui.refreshable(self._summary)
            self.summary()
            if editable:
                self.editor = ui.refreshable(self._editor)
                self.editor()
        self._show_boxes()

    # --- what is stored ---------------------------------------------------------------------------------

    def _summary(self) -> None:
        if self.current is None:
            ui.label("Not verified yet: the species shown are the model's.").classes("text-caption text-grey-8")
            return
        boxes = self.current["boxes"]
        if self.current["blank"]:
            said = "blank (nothing there)"
        else:
            said = ", ".join(
                f"{species_label(b['taxon'], b.get('common_name')) if b.get('taxon') else b['label']}"
                + (f" ×{b['count']}" if b.get("count", 1) != 1 else "")
                for b in boxes
            )
        who = self.current.get("verified_by_email") or "someone"
        when = self.current["verified_at"].strftime("%Y-%m-%d %H:%M UTC")
        with ui.row().classes("items-center no-wrap gap-1"):
            ui.icon("verified", color="positive").classes("shrink-0")
            ui.label(f"Verified: {said or 'nothing'}").classes("text-weight-medium").props('data-testid="verified"')
        ui.label(f"by {who}, {when}").classes("text-caption text-grey-8")
        if self.current["notes"]:
            ui.label(f"Notes: {self.current['notes']}").classes("text-caption")

    # --- the editor ------------------------------------------------------------------------------------

    def _editor(self) -> None:
        with ui.row().classes("w-full q-gutter-sm items-center q-mt-sm"):
            ui.button("Confirm", icon="check", on_click=self.confirm).props(
                'color=positive data-testid="confirm" title="The model is right (c)"'
            )
            ui.button("Add a missed box", icon="crop_free", on_click=lambda: self.photo.draw(True)).props(
                "outline title='Draw a box on the photo (d)'"
            )
            if self.current is not None:
                ui.button("Clear", icon="undo", on_click=self.clear).props("flat color=negative")
        ui.checkbox("Blank: nothing there", value=self.blank, on_change=self._set_blank)
        if not self.blank:
            for position, row in enumerate(self.rows):
                self._row_editor(position, row)
        ui.textarea("Notes", value=self.notes, on_change=lambda e: setattr(self, "notes", e.value or "")).classes(
            "w-full"
        ).props("autogrow outlined dense")
        ui.label('Not in the list? Type "red deer (Cervus elaphus)" and press Enter.').classes(
            "text-caption text-grey-7"
        )
        ui.button("Save correction", icon="save", on_click=self.save).props('color=primary data-testid="save"')

    def _row_editor(self, position: int, row: Row) -> None:
        with ui.column().classes("w-full q-pa-xs q-mb-xs rounded-borders bg-grey-2 gap-1"):
            with ui.row().classes("w-full items-center justify-between no-wrap"):
                ui.checkbox(row.caption, value=row.keep, on_change=lambda e: self._change(position, keep=e.value))
                if row.detection is None:
                    ui.button(icon="delete", on_click=lambda: self._remove(position)).props(
                        "flat dense round aria-label='Remove this box'"
                    )
            if not row.keep:
                return
            options = dict(self.options)
            if row.species and row.species not in options:
                options[row.species] = row.species
            ui.select(
                options,
                value=row.species,
                label="Species",
                with_input=True,
                new_value_mode="add-unique",
                clearable=True,
                on_change=lambda e: self._change(position, species=e.value or None),
            ).classes("w-full").props(f'dense outlined data-testid="species-{position}"')
            with ui.row().classes("w-full items-center justify-between no-wrap gap-2"):
                ui.toggle(
                    list(LABELS), value=row.label, on_change=lambda e: self._change(position, label=e.value)
                ).props("dense size=sm no-caps")
                ui.number("Count", value=row.count, min=1, max=1000, step=1, format="%d").classes("w-20").props(
                    "dense outlined"
                ).on_value_change(lambda e: self._change(position, count=int(e.value or 1)))

    def _change(self, position: int, **changes: Any) -> None:
        refresh = "keep" in changes
        self.rows[position] = replace(self.rows[position], **changes)
        self._show_boxes()
        if refresh:
            self.editor.refresh()

    def _remove(self, position: int) -> None:
        del self.rows[position]
        self._show_boxes()
        self.editor.refresh()

    def _set_blank(self, event: Any) -> None:
        self.blank = bool(event.value)
        self._show_boxes()
        self.editor.refresh()

    def add_box(self, bbox: BBox) -> None:
        added = sum(1 for row in self.rows if row.detection is None) + 1
        self.rows.append(Row(None, "animal", None, 1, bbox, caption=f"added box {added}"))
        self.blank = False
        self._show_boxes()
        self.editor.refresh()
        ui.notify("Box added: choose its species below, then save.")

    def _show_boxes(self) -> None:
        drawn = []
        for row in self.rows:
            if not row.keep or row.bbox is None or self.blank:
                continue
            name = self.known.get(row.species or "") or row.species or row.label
            drawn.append(DrawnBox(row.bbox, row.label, name, dashed=row.detection is None))
        self.photo.show(drawn)

    # --- saving ----------------------------------------------------------------------------------------

    def body(self) -> dict[str, Any]:
        if self.blank:
            return {"boxes": [], "blank": True, "notes": self.notes}
        boxes = []
        for row in self.rows:
            if not row.keep:
                continue
            taxon, common_name = species_from_text(row.species or "", self.known) or (None, None)
            box: dict[str, Any] = {"detection": row.detection, "label": row.label, "count": row.count}
            box |= {"taxon": taxon, "common_name": common_name}
            if row.detection is None:
                box["bbox"] = list(row.bbox) if row.bbox else None  # None: said of the whole photo
            boxes.append(box)
        return {"boxes": boxes, "notes": self.notes}

    async def confirm(self) -> None:
        await self._store({"confirm": True, "notes": self.notes}, "Confirmed")

    async def save(self) -> None:
        await self._store(self.body(), "Saved")

    async def clear(self) -> None:
        if not await self._may_verify():
            return
        await verifications.clear(self.services.pool, self.subject.image_id, by=self.viewer.user)
        self.current = None
        self.rows, self.blank, self.notes = _rows(self.subject, None), False, ""
        self._after_change("Verification cleared: the model's species are back.")

    async def _store(self, body: dict[str, Any], done: str) -> None:
        if not await self._may_verify() or not await self._same_boxes():
            return
        try:
            verification = parse_verification(body, self.subject.boxes, threshold=self.subject.threshold)
        except VerificationError as error:
            ui.notify(f"Not saved: {error}", type="warning")
            return
        self.current = await verifications.save(
            self.services.pool, self.subject.image_id, verification, by=self.viewer.user
        )
        self.rows, self.blank = _rows(self.subject, self.current), verification.blank
        self._after_change(f"{done}: thank you.")

    def _after_change(self, message: str) -> None:
        self.summary.refresh()
        self.editor.refresh()
        self._show_boxes()
        ui.notify(message, type="positive")

    async def _same_boxes(self) -> bool:
        """The model's boxes may have changed since the page loaded (a re-detection): the rows' box numbers would
        then name other boxes. Show the new ones and let the person look again rather than save onto them."""
        fresh = await verifications.subject(self.services.pool, self.subject.image_id)
        if fresh is None:
            ui.notify("This photo is gone.", type="warning")
            return False
        if fresh == self.subject:
            return True
        self.subject = fresh
        self.current = await verifications.get(self.services.pool, fresh.image_id)
        self.rows = _rows(fresh, self.current)
        self.summary.refresh()
        self.editor.refresh()
        self._show_boxes()
        ui.notify("The model's boxes of this photo changed meanwhile: check them again, then save.", type="warning")
        return False

    async def _may_verify(self) -> bool:
        """The role may have changed since the page loaded: ask again."""
        fresh = await current_viewer(self.services.pool, self.viewer)
        if fresh is None or not fresh.can_verify(self.subject.project_id):
            ui.notify("You may no longer verify the photos of this project.", type="negative")
            return False
        return True


def _rows(subject: verifications.Subject, current: dict[str, Any] | None) -> list[Row]:
    """The editor's rows: the stored verification's boxes, else the model's (those under the threshold unticked)."""
    rows = []
    said = {box.get("detection"): box for box in (current or {}).get("boxes", []) if box.get("detection") is not None}
    for box in subject.boxes:
        caption = f"box {box.index + 1}: {box.label} {box.score:.0%}"
        if current is not None:
            stored = said.get(box.index)
            keep = stored is not None
            label = stored["label"] if stored else box.label
            species = stored.get("taxon") if stored else box.taxon
            count = int(stored.get("count", 1)) if stored else 1
        else:
            keep, label, species, count = box.score >= subject.threshold, box.label, box.taxon, 1
        rows.append(Row(box.index, label, species, count, box.bbox, keep=keep, caption=caption))
    added = [box for box in (current or {}).get("boxes", []) if box.get("detection") is None]
    for number, box in enumerate(added, start=1):
        bbox = tuple(box["bbox"]) if box.get("bbox") else None
        caption = f"added box {number}" if bbox else "the whole photo"
        rows.append(Row(None, box["label"], box.get("taxon"), int(box.get("count", 1)), bbox, caption=caption))
    return rows
