"""``/cameras/{id}``: one camera: its state, health history and photos per day (ECharts), deployments and their
sites, the admin's corrections, and the field work (cameras_field)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from nicegui import ui

from addax.domain.field_work import problems
from addax.store import browse, camera_board
from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.pages import cameras_field
from addax.ui.pages.cameras_common import activity_of, ago, condition, megabytes, or_dash
from addax.ui.pages.cameras_feed import approve, place_by_hand, rename_site
from addax.ui.session import NotFound, Viewer

HISTORY_DAYS = 60
HEALTH_SERIES = (
    ("battery_pct", "Battery (%)", "#5b6b3a"),
    ("signal_csq", "Signal (CSQ 0–31)", "#3a6b8a"),
    ("sd_free_mb", "SD card free (MB)", "#8a7a55"),
    ("temperature_c", "Temperature (°C)", "#c07a2c"),
)


def register(services: UiServices) -> None:
    @signed_in_page(services, "/cameras/{camera_id}", "Camera")
    async def camera_page(viewer: Viewer, request: Request, *, camera_id: int) -> None:
        found = await camera_board.camera_rows(services.pool, projects=viewer.projects, camera_id=camera_id)
        if not found:
            raise NotFound
        camera = found[0]
        now = datetime.now(UTC)
        with ui.column().classes("w-full q-pa-sm gap-4"):
            _summary(services, viewer, camera, now)
            reports = await browse.camera_health(services.pool, camera_id, limit=HISTORY_DAYS)
            per_day = await camera_board.images_per_day(
                services.pool, camera_id, since=now - timedelta(days=HISTORY_DAYS)
            )
            _charts(list(reversed(reports)), per_day)
            await _deployments(services, viewer, camera)
            await cameras_field.section(services, viewer, camera)


def _summary(services: UiServices, viewer: Viewer, camera: dict[str, Any], now: datetime) -> None:
    seen = activity_of(camera, now)
    with ui.card().classes("w-full"):
        with ui.row().classes("items-center gap-2"):
            ui.element("span").style(
                f"display:inline-block;width:14px;height:14px;border-radius:50%;background:{seen.colour}"
            )
            ui.label(camera["name"]).classes("text-h5")
            ui.badge(camera["status"], color={"active": "positive", "pending": "warning"}.get(camera["status"], "grey"))
        facts = {
            "Project": camera["project"],
            "Site": camera["site"] or "none yet",
            "Last seen": ago(camera["last_seen_at"], now),
            "Battery": or_dash(camera["battery_pct"], " %"),
            "Signal": or_dash(camera["signal_csq"]),
            "SD card free": megabytes(camera["sd_free_mb"]),
            "Temperature": or_dash(camera["temperature_c"], " °C"),
            "Identity": camera["identity"],
            "Make / model": " ".join(filter(None, (camera["make"], camera["model"]))) or "–",
            "Position": f"{camera['latitude']:.5f}, {camera['longitude']:.5f}" if camera["latitude"] else "unknown",
        }
        with ui.grid().classes("grid-cols-2 md:grid-cols-5 gap-x-6 gap-y-1 w-full"):
            for label, value in facts.items():
                with ui.column().classes("gap-0"):
                    ui.label(label).classes("text-caption text-grey-7")
                    ui.label(str(value)).classes("text-body2 break-all")
        if found := problems(condition(camera), now):
            with ui.row().classes("gap-1"):
                for problem in found:
                    ui.badge(problem, color="orange-2", text_color="brown-10")
        if viewer.admin_of(camera["project_id"]):
            with ui.row().classes("gap-2"):
                if camera["status"] == "pending":
                    ui.button("Approve", on_click=lambda: approve(services, viewer, camera))
                ui.button("Place by hand", on_click=lambda: place_by_hand(services, viewer, camera["id"])).props(
                    "outline"
                )


def _line_chart(title: str, days: list[str], values: list[Any], colour: str) -> None:
    options = {
        "animation": False,
        "title": {"text": title, "textStyle": {"fontSize": 13}},
        "grid": {"left": 48, "right": 12, "top": 36, "bottom": 28},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": days},
        "yAxis": {"type": "value", "scale": True},
        "series": [{"type": "line", "data": values, "connectNulls": False, "color": colour}],
    }
    ui.echart(options).classes("w-full h-52 addax-chart")


def _charts(reports: list[dict[str, Any]], per_day: list[dict[str, Any]]) -> None:
    ui.label("History").classes("text-h6")
    with ui.grid().classes("grid-cols-1 md:grid-cols-2 gap-2 w-full"):
        days = [report["report_date"].isoformat() for report in reports]
        if reports:
            for column, title, colour in HEALTH_SERIES:
                _line_chart(title, days, [report[column] for report in reports], colour)
        else:
            ui.label("No health reports from this camera yet.")
        photo_days = [row["day"].isoformat() for row in per_day]
        options = {
            "animation": False,
            "title": {"text": "Photos per day", "textStyle": {"fontSize": 13}},
            "grid": {"left": 48, "right": 12, "top": 36, "bottom": 28},
            "tooltip": {"trigger": "axis"},
            "xAxis": {"type": "category", "data": photo_days},
            "yAxis": {"type": "value", "minInterval": 1},
            "series": [{"type": "bar", "data": [row["images"] for row in per_day], "color": "#5b6b3a"}],
        }
        ui.echart(options).classes("w-full h-52 addax-chart")


async def _deployments(services: UiServices, viewer: Viewer, camera: dict[str, Any]) -> None:
    deployments = await camera_board.deployments_of(services.pool, camera["id"])
    ui.label("Deployments").classes("text-h6")
    if not deployments:
        ui.label("Not placed on a site yet.")
        return
    admin = viewer.admin_of(camera["project_id"])
    with ui.list().props("bordered separator dense").classes("w-full rounded-borders"):
        for deployment in deployments:
            with ui.item(), ui.item_section():
                ends = deployment["ends_on"].isoformat() if deployment["ends_on"] else "now"
                with ui.row().classes("items-center gap-2"):
                    ui.label(f"{deployment['starts_on'].isoformat()} – {ends}: {deployment['site'] or 'no site'}")
                    ui.label(f"{deployment['images']} photos").classes("text-caption text-grey-7")
                    if admin and deployment["site_id"] is not None:
                        ui.button(
                            "Rename site", on_click=lambda s=deployment["site_id"]: rename_site(services, viewer, s)
                        ).props("dense flat")
