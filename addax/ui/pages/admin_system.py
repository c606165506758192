"""The admin page's "Models and storage" tab: how the model actors are, and what each project stores per tier."""

from __future__ import annotations

import asyncio
import shutil

from nicegui import ui

from addax.domain.sizes import size_text
from addax.runtime import ActorHealth
from addax.store import tiering
from addax.ui.context import UiServices
from addax.ui.pages.admin_common import empty, fresh, section
from addax.ui.session import Viewer

MODEL_ACTORS = ("detect", "classif")  # the detector and classifier models, and the stages that use them


async def system_tab(services: UiServices, viewer: Viewer) -> None:
    @ui.refreshable
    def models() -> None:
        found = [health for health in services.health() if any(part in health.name for part in MODEL_ACTORS)]
        if not found:
            empty("No model actors run in this process.")
        with ui.row().classes("w-full gap-4"):
            for health in found:
                _model_card(health)

    section("Models")
    models()
    ui.timer(5.0, models.refresh)
    section("Storage")
    now = await fresh(services, viewer)
    if now is None:
        return
    used: dict[int, dict[str, tuple[int, int]]] = {project_id: {} for project_id in now.administered}
    for share in await tiering.storage_use(services.pool, projects=now.administered):
        used[share.project_id][share.tier] = (share.images, share.bytes)
    for tier in ("hot", "cold"):
        files, size = (sum(tiers.get(tier, (0, 0))[n] for tiers in used.values()) for n in (0, 1))
        ui.label(f"{tier.capitalize()} tier: {files} files · {size_text(size)}").classes("text-body2")
    with ui.list().props("bordered separator dense").classes("w-full rounded-borders"):
        for project_id, tiers in sorted(used.items(), key=lambda item: -sum(size for _, size in item[1].values())):
            with ui.item().classes("w-full"), ui.row().classes("w-full justify-between items-center"):
                ui.label(now.project_names.get(project_id, str(project_id)))
                ui.label(" · ".join(f"{tier} {files} files, {size_text(size)}" for tier, (files, size) in
                                    tiers.items()) or "0 files")  # fmt: skip
    if not now.is_server_admin:  # the server's disk is not a project's business
        return
    disk = await asyncio.to_thread(shutil.disk_usage, services.storage_dir.parent)  # the data directory
    ui.label(f"Disk of the data directory: {size_text(disk.free)} free of {size_text(disk.total)}").classes("q-mt-sm")
    ui.linear_progress(value=round(disk.used / disk.total, 3), show_value=False).props("size=10px rounded")


def _model_card(health: ActorHealth) -> None:
    state = "ok" if health.healthy else ("running, unhealthy" if health.alive else "down")
    colour = "positive" if health.healthy else "negative"
    with ui.card().classes("w-full sm:w-96").props("flat bordered"):
        with ui.row().classes("items-center gap-x-3 gap-y-1"):
            ui.icon("check_circle" if health.healthy else "error", color=colour)
            ui.label(health.name).classes("text-subtitle1 text-weight-medium")
            ui.badge(state, color=colour)
        ui.label(health.detail or "no detail").classes("text-body2")
        if health.last_error:
            ui.label(f"last error: {health.last_error}").classes("text-caption text-negative")
