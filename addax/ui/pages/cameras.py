"""``/cameras``: the viewer's cameras, the ones that need a visit first; approval of new cameras, the camera-updates
feed with its corrections, and site groups. ``/cameras/{id}`` lives in cameras_detail (charts) and cameras_field
(field work)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from nicegui import ui

from addax.domain.field_work import attention_order, problems
from addax.store import camera_board
from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.pages import cameras_detail, cameras_feed, cameras_field
from addax.ui.pages.cameras_common import activity_of, ago, condition, megabytes, or_dash
from addax.ui.session import Viewer

COLUMNS: list[dict[str, Any]] = [
    {"name": "name", "label": "Camera", "field": "name", "align": "left", "sortable": True},
    {"name": "attention", "label": "Needs", "field": "attention", "align": "left"},
    {"name": "project", "label": "Project", "field": "project", "align": "left", "sortable": True},
    {"name": "site", "label": "Site", "field": "site", "align": "left", "sortable": True},
    {"name": "status", "label": "Status", "field": "status", "align": "left", "sortable": True},
    {"name": "battery", "label": "Battery", "field": "battery", "align": "right"},
    {"name": "signal", "label": "Signal", "field": "signal", "align": "right"},
    {"name": "sd", "label": "SD free", "field": "sd", "align": "right"},
    {"name": "temperature", "label": "Temp.", "field": "temperature", "align": "right"},
    {"name": "seen", "label": "Last seen", "field": "seen", "align": "left"},
]

# The name links to the camera; the dot before it shows how recently it was heard from.
_NAME_CELL = """<q-td :props="props">
  <span :style="'display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:6px;background:'
                + props.row.colour"></span>
  <a :href="'/cameras/' + props.row.id" class="text-primary">{{ props.value }}</a>
</q-td>"""
_ATTENTION_CELL = """<q-td :props="props">
  <q-badge v-for="p in props.value" :key="p" color="orange-2" text-color="brown-10" class="q-mr-xs">{{ p }}</q-badge>
  <span v-if="!props.value.length" class="text-grey-6">–</span>
</q-td>"""


def register(services: UiServices) -> None:
    cameras_detail.register(services)
    cameras_field.register(services)

    @signed_in_page(services, "/cameras", "Cameras")
    async def cameras_page(viewer: Viewer, request: Request) -> None:
        rows = await camera_board.camera_rows(services.pool, projects=viewer.projects)
        now = datetime.now(UTC)
        rows.sort(key=lambda row: attention_order(condition(row), now))
        with ui.column().classes("w-full q-pa-sm gap-4"):
            _pending(services, viewer, [row for row in rows if row["status"] == "pending"])
            table_rows = [_table_row(row, now) for row in rows]
            table = ui.table(columns=COLUMNS, rows=table_rows, row_key="id")
            table.classes("w-full gt-xs").props("dense flat bordered wrap-cells :pagination='{rowsPerPage: 50}'")
            table.add_slot("body-cell-name", _NAME_CELL)
            table.add_slot("body-cell-attention", _ATTENTION_CELL)
            _phone_cards(table_rows)
            if not rows:
                ui.label("No cameras yet: a camera appears here when it sends its first photo or report.")
            await cameras_feed.feed(services, viewer, {row["id"]: row for row in rows})
            await cameras_feed.site_groups(services, viewer)


def _table_row(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "colour": activity_of(row, now).colour,
        "attention": problems(condition(row), now),
        "project": row["project"],
        "site": row["site"] or "–",
        "status": row["status"],
        "battery": or_dash(row["battery_pct"], " %"),
        "signal": or_dash(row["signal_csq"]),
        "sd": megabytes(row["sd_free_mb"]),
        "temperature": or_dash(row["temperature_c"], " °C"),
        "seen": ago(row["last_seen_at"], now),
    }


def _phone_cards(rows: list[dict[str, Any]]) -> None:
    """The table's rows as cards on a phone (a ten-column table does not fit 390 px)."""
    with ui.column().classes("xs w-full gap-2"):
        for row in rows:
            with ui.card().classes("w-full q-pa-sm").props("flat bordered"):
                with ui.row().classes("items-center gap-2 no-wrap"):
                    ui.element("span").style(
                        f"display:inline-block;width:10px;height:10px;border-radius:50%;background:{row['colour']}"
                    )
                    ui.link(row["name"], f"/cameras/{row['id']}").classes("text-weight-medium")
                    ui.label(f"{row['status']} · {row['site']}").classes("text-caption text-grey-7 ellipsis")
                if row["attention"]:
                    with ui.row().classes("gap-1"):
                        for problem in row["attention"]:
                            ui.badge(problem, color="orange-2", text_color="brown-10")
                ui.label(
                    f"battery {row['battery']} · signal {row['signal']} · SD {row['sd']} · {row['temperature']}"
                    f" · seen {row['seen']}"
                ).classes("text-caption")


def _pending(services: UiServices, viewer: Viewer, pending: list[dict[str, Any]]) -> None:
    mine = [row for row in pending if viewer.admin_of(row["project_id"])]
    if not mine:
        return
    with ui.card().classes("w-full bg-amber-1"):
        ui.label("New cameras waiting for approval").classes("text-subtitle1")
        for row in mine:
            with ui.row().classes("items-center gap-2 w-full"):
                ui.label(f"{row['name']} ({row['project']})").classes("grow")
                ui.label(row["identity"]).classes("text-caption text-grey-7 gt-xs")
                ui.button("Approve", on_click=lambda r=row: cameras_feed.approve(services, viewer, r)).props("dense")
