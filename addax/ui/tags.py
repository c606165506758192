"""A row of tags (chips) with an entry to add one, shared by the camera and photo pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from addax.domain.field_work import FieldWorkError
from addax.store.field_work import NotInProject


async def tag_row(
    tags: list[str],
    *,
    editable: bool,
    add: Callable[[str], Awaitable[object]],
    remove: Callable[[str], Awaitable[object]],
    redraw: Callable[[], object],
    example: str,
) -> None:
    """``add`` and ``remove`` re-check the user's rights themselves (raising NotInProject when they lost them)."""

    async def changed(change: Callable[[str], Awaitable[object]], text: str) -> None:
        try:
            await change(text)
        except FieldWorkError as refused:
            ui.notify(str(refused), type="warning")
            return
        except NotInProject:
            ui.notify("You may no longer change these tags.", type="warning")
            return
        redraw()

    ui.label("Tags").classes("text-subtitle1")
    with ui.row().classes("gap-1"):
        for tag in tags:
            chip = ui.chip(tag, removable=editable, color="secondary", text_color="white").props("dense")
            chip.on("remove", lambda t=tag: changed(remove, t))
        if not tags:
            ui.label("No tags.").classes("text-grey-7")
    if editable:
        with ui.row().classes("items-center no-wrap w-full"):
            entry = ui.input("New tag", placeholder=f"e.g. {example}").props("dense maxlength=40").classes("grow")
            entry.on("keydown.enter", lambda: changed(add, entry.value or ""))
            ui.button("Add tag", on_click=lambda: changed(add, entry.value or "")).props("dense outline")
