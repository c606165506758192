"""A card of the insights page: a title, a "Download CSV" button with the chart's own numbers, the chart (or a
"nothing yet" line when there is nothing to draw), and a row for the card's own controls."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from nicegui import ui

from addax.domain.insights import csv_text

Rows = Sequence[Sequence[object]]


def chart_card(
    title: str,
    options: dict[str, Any] | None,
    *,
    csv: tuple[Sequence[str], Rows],
    filename: str,
    empty: str | None,
) -> ui.row:
    """Draws the card; returns its controls row (``with chart_card(...):`` puts controls in it)."""
    with ui.card().classes("w-full min-w-0").props(f"data-chart={_slug(filename)}"):
        _title(title, csv, filename)
        controls = ui.row().classes("w-full items-center gap-2")
        if empty is not None or options is None:
            ui.label(empty or "Nothing yet.").classes("text-grey-7 q-pa-md nothing-yet")
        else:
            ui.echart(options).classes("w-full h-80")
    return controls


def table_card(title: str, header: Sequence[str], rows: Rows, *, filename: str, empty: str | None) -> None:
    with ui.card().classes("w-full min-w-0").props(f"data-chart={_slug(filename)}"):
        _title(title, (header, rows), filename)
        if empty is not None:
            ui.label(empty).classes("text-grey-7 q-pa-md nothing-yet")
            return
        columns = [{"name": str(i), "label": name, "field": str(i), "align": "left"} for i, name in enumerate(header)]
        ui.table(columns=columns, rows=[{str(i): value for i, value in enumerate(row)} for row in rows]).props(
            "dense flat"
        ).classes("w-full")


def _title(title: str, csv: tuple[Sequence[str], Rows], filename: str) -> None:
    header, rows = csv
    with ui.row().classes("w-full items-start no-wrap"):
        ui.label(title).classes("text-subtitle1 text-weight-medium col")
        ui.button(
            "Download CSV",
            icon="download",
            on_click=lambda: ui.download.content(csv_text(header, rows), filename, "text/csv"),
        ).props("flat dense no-caps")


def _slug(filename: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", filename.removesuffix(".csv"))
