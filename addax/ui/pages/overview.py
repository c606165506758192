"""``/``: today at a glance, kept live by the same events as ``/api/ws`` (no manual refresh).

Today's photos and what they show, the latest alerts sent to this user, the cameras that need attention, and
the pipeline's health (actors, queue depths, dead letters; the actor table for admins).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from nicegui import context, ui

from addax.domain.alert_rules import CameraHealthRule
from addax.domain.alerts import health_problems
from addax.store import gallery, notifications, overview, summaries, work
from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.session import Viewer

LIVE_EVENTS = {"image.received", "image.processed", "alert.sent", "camera.updated"}
REFRESH_S = 1.0  # at most one refresh a second, however many photos arrive
PIPELINE_EVERY = 5  # the pipeline's figures every fifth tick: 20 open pages must not keep the database busy


def register(services: UiServices) -> None:
    @signed_in_page(services, "/", "Overview")
    async def overview_page(viewer: Viewer, request: Request) -> None:
        await Overview(services, viewer).build()


class Overview:
    def __init__(self, services: UiServices, viewer: Viewer) -> None:
        self.services, self.viewer = services, viewer

    async def build(self) -> None:
        if not self.viewer.projects:
            ui.label("You are not in any project yet: ask an admin to add you to one.").classes("text-h6")
            if self.viewer.is_server_admin:
                await self._pipeline()
            return
        with ui.element("div").classes("w-full q-gutter-md row items-stretch"):
            self.today = ui.refreshable(self._today)
            self.alerts = ui.refreshable(self._alerts)
            self.cameras = ui.refreshable(self._cameras)
            self.pipeline = ui.refreshable(self._pipeline)
            for section in (self.today, self.alerts, self.cameras, self.pipeline):
                await section()
        self._follow_events()

    def _follow_events(self) -> None:
        """Refresh when an event of the viewer's projects (or an alert to them) arrives, at most once a second."""
        stack = ExitStack()
        subscription = stack.enter_context(self.services.events.subscribe())
        context.client.on_delete(stack.close)
        projects, user_id = set(self.viewer.projects), self.viewer.user.id
        ticks = 0

        async def check() -> None:
            nonlocal ticks
            ticks += 1
            changed = {
                event.type
                for event in subscription.drain()
                if event.type in LIVE_EVENTS
                and (
                    event.data.get("user_id") == user_id
                    if event.type == "alert.sent"
                    else event.data.get("project_id") in projects
                )
            }
            if changed:
                await self.today.refresh()
                await self.cameras.refresh()
                await self.alerts.refresh()
            if ticks % PIPELINE_EVERY == 0:
                await self.pipeline.refresh()

        ui.timer(REFRESH_S, check)

    async def _today(self) -> None:
        zone = await gallery.project_zone(self.services.pool, self.viewer.projects[0])
        midnight = datetime.now(ZoneInfo(zone)).replace(hour=0, minute=0, second=0, microsecond=0)
        figures = await overview.day(self.services.pool, self.viewer.projects, midnight)
        species = await gallery.species_names(self.services.pool, self.viewer.projects)
        with card("Today", "today"):
            with ui.row().classes("items-baseline"):
                ui.label(str(figures["photos"])).classes("text-h3 addax-photos-today")
                ui.label(
                    "photos taken today"
                    + (f", {figures['in_progress']} being processed" if figures["in_progress"] else "")
                )
            if figures["labels"]:
                with ui.row().classes("q-gutter-xs"):
                    for label, count in sorted(figures["labels"].items()):
                        ui.chip(f"{label}: {count}", icon=LABEL_ICONS.get(label, "label")).props("outline")
            if figures["species"]:
                ui.label("Top species").classes("text-subtitle2 q-mt-sm")
                for taxon, count in figures["species"][:5]:
                    with ui.link(target=f"/gallery?species={taxon}").classes("no-underline text-grey-9"):
                        ui.label(f"{species.get(taxon, taxon)}: {count}")
            elif not figures["photos"]:
                ui.label("No photos yet today.").classes("text-grey-7")
            ui.link("Open the gallery", "/gallery")

    async def _alerts(self) -> None:
        latest = await notifications.listing(self.services.pool, user_id=self.viewer.user.id, limit=5)
        with card("My latest alerts", "notifications"):
            if not latest:
                ui.label("No alerts sent to you yet.").classes("text-grey-7")
            for row in latest:
                with ui.row().classes("items-center no-wrap"):
                    ui.icon(STATUS_ICONS.get(row["status"], "schedule"))
                    target = f"/images/{row['image_id']}" if row["image_id"] else "/alerts"
                    ui.link(row["subject"] or row["kind"], target).classes("ellipsis")
                ui.label(f"{row['channel']} · {row['created_at']:%d %b %H:%M} UTC").classes("text-caption q-ml-lg")
            ui.link("My alert rules", "/alerts")

    async def _cameras(self) -> None:
        now, rule = datetime.now(UTC), CameraHealthRule()
        needing: list[tuple[int, str, str, str]] = []
        async with self.services.pool.acquire() as connection:
            for project in self.viewer.projects:
                for state in await summaries.camera_states(connection, project):
                    for problem in health_problems(rule, state, now).values():
                        needing.append((state.camera_id, state.name, self.viewer.project_names[project], problem))
        needing.sort(key=lambda item: (item[2], item[1]))
        with card("Cameras needing attention", "photo_camera"):
            if not needing:
                ui.label("All cameras look fine.").classes("text-grey-7")
            for camera_id, name, project_name, problem in needing[:10]:
                with ui.row().classes("items-center no-wrap"):
                    ui.icon("warning", color="warning")
                    ui.link(name, f"/cameras/{camera_id}")
                    ui.label(f"({project_name}): {problem}").classes("text-body2")
            ui.link("All cameras", "/cameras")

    async def _pipeline(self) -> None:
        figures = await work.figures(self.services.pool)
        actors = self.services.health()
        down = [actor.name for actor in actors if not actor.healthy]
        with card("Pipeline", "memory"):
            with ui.row().classes("items-center"):
                ui.icon("check_circle" if not down else "error", color="positive" if not down else "negative")
                ui.label("All parts running" if not down else f"Not healthy: {', '.join(down)}")
            waiting = ", ".join(f"{stage} {n}" for stage, n in figures["stages"].items() if n)
            ui.label(f"Waiting: {waiting}" if waiting else "Nothing waiting").classes("text-body2")
            ui.label(f"Dead letters: {figures['dead_letters']}").classes("text-body2")
            if figures["latency_p50_s"] is not None:
                ui.label(f"Arrival to done: {figures['latency_p50_s']:.1f} s (p50)").classes("text-body2")
            if self.viewer.is_server_admin:
                _actor_table(actors)


def card(title: str, icon: str) -> ui.card:
    panel = ui.card().classes("col-12 col-md-5 col-lg")
    with panel:
        with ui.row().classes("items-center"):
            ui.icon(icon, color="primary")
            ui.label(title).classes("text-h6")
    return panel


LABEL_ICONS = {"animal": "pets", "person": "person", "vehicle": "directions_car"}
STATUS_ICONS = {"sent": "done", "failed": "error", "suppressed": "block", "pending": "schedule"}


def _ago(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    seconds = int(time.time() - timestamp)
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def _actor_table(actors: list) -> None:  # type: ignore[type-arg]
    columns = [
        {"name": key, "label": label, "field": key, "align": "left"}
        for key, label in [
            ("name", "Actor"),
            ("state", "State"),
            ("restarts", "Restarts"),
            ("mailbox", "Mailbox"),
            ("last_success", "Last success"),
            ("detail", "Detail"),
        ]
    ]
    rows = [
        {
            "name": health.name,
            "state": "ok" if health.healthy else ("running, unhealthy" if health.alive else "down"),
            "restarts": health.restarts,
            "mailbox": f"{health.mailbox_depth}/{health.mailbox_capacity}" if health.mailbox_capacity else "-",
            "last_success": _ago(health.last_success_at),
            "detail": health.last_error or health.detail or "",
        }
        for health in actors
    ]
    ui.table(columns=columns, rows=rows, row_key="name").props("dense flat").classes("w-full")
