"""The admin page's "Problems" tab: refused files (reprocess one) and failed work (retry a dead letter)."""

from __future__ import annotations

from typing import Any

from nicegui import ui

from addax.store import browse, retries, work
from addax.ui.context import UiServices
from addax.ui.pages.admin_common import admin_of, empty, fresh, section, when
from addax.ui.session import Viewer


async def problems_tab(services: UiServices, viewer: Viewer) -> None:
    @ui.refreshable
    async def rejected() -> None:
        now = await fresh(services, viewer)
        if now is None:
            return
        found = await browse.rejections(services.pool, projects=now.administered)
        if not found:
            empty("No rejected files.")
        with ui.list().props("bordered separator").classes("w-full rounded-borders"):
            for rejection in found:
                _rejection_row(services, now, rejection, rejected.refresh)

    @ui.refreshable
    async def failed() -> None:
        now = await fresh(services, viewer)
        if now is None:
            return
        found = await _visible_letters(services, now)
        if not found:
            empty("No failed work waiting.")
        with ui.list().props("bordered separator").classes("w-full rounded-borders"):
            for letter in found:
                _letter_row(services, now, letter, failed.refresh)

    section("Rejected files")
    await rejected()
    section("Dead letters (failed work)")
    await failed()


async def _visible_letters(services: UiServices, viewer: Viewer, letter: int | None = None) -> list[dict[str, Any]]:
    """Failed images of the projects the viewer administers, and the notifications they may see (as the API
    lists them)."""
    return await work.dead_letters(
        services.pool,
        projects=viewer.administered,
        administered=viewer.administered,
        user_id=viewer.user.id,
        everything=viewer.is_server_admin,
        letter=letter,
    )


def _rejection_row(services: UiServices, viewer: Viewer, rejection: dict[str, Any], changed: Any) -> None:
    image_id = int(rejection["id"])

    async def send_back() -> None:
        project_id = await browse.project_of(services.pool, browse.Owned.REJECTION, image_id)
        if project_id is None:
            ui.notify("That file is no longer rejected.", type="warning")
            changed()
            return
        now = await admin_of(services, viewer, project_id)
        if now is None:
            return
        if services.reprocess_rejection is None:
            ui.notify("Nothing receives files in this process.", type="negative")
            return
        if await services.reprocess_rejection(image_id, now.user.email):
            ui.notify(f"{rejection['original_name']} is being processed again")
        else:
            ui.notify("That file is no longer rejected.", type="warning")
        changed()

    with ui.item().classes("w-full"), ui.row().classes("w-full items-center gap-x-3 gap-y-1"):
        with ui.column().classes("col gap-0"):
            ui.label(rejection["original_name"] or f"file {image_id}").classes("text-weight-medium ellipsis")
            reason = rejection["reject_reason"] or "rejected"
            detail = f": {rejection['detail']}" if rejection.get("detail") else ""
            ui.label(f"{reason}{detail}").classes("text-negative text-body2")
            ui.label(
                f"{viewer.project_names.get(rejection['project_id'], '')} · received {when(rejection['received_at'])}"
            ).classes("text-caption text-grey-7")
        ui.button("Reprocess", icon="replay", on_click=send_back).props(
            f"flat dense aria-label='Reprocess file {image_id}'"
        )


def _letter_row(services: UiServices, viewer: Viewer, letter: dict[str, Any], changed: Any) -> None:
    letter_id = int(letter["id"])

    async def retry() -> None:
        about = await retries.letter(services.pool, letter_id)
        if about is None:
            ui.notify("That dead letter is gone.", type="warning")
            changed()
            return
        if about.notification_id is not None:
            await _retry_notification(services, viewer, letter_id)
        else:
            await _retry_image(services, viewer, letter_id)
        changed()

    with ui.item().classes("w-full"), ui.row().classes("w-full items-center gap-x-3 gap-y-1"):
        with ui.column().classes("col gap-0"):
            if letter["image_id"] is not None:
                subject = letter["original_name"] or f"image {letter['image_id']}"
            else:
                subject = f"{letter['channel']} to {letter['recipient']}: {letter['subject'] or 'notification'}"
            ui.label(subject).classes("text-weight-medium ellipsis")
            ui.label(f"{letter['stage']} failed after {letter['attempts']} attempts: {letter['error']}").classes(
                "text-negative text-body2"
            )
            ui.label(f"{viewer.project_names.get(letter['project_id'], '')} · {when(letter['created_at'])}").classes(
                "text-caption text-grey-7"
            )
        ui.button("Retry", icon="replay", on_click=retry).props(
            f"flat dense aria-label='Retry dead letter {letter_id}'"
        )


async def _retry_image(services: UiServices, viewer: Viewer, letter_id: int) -> None:
    now = await admin_of(services, viewer, await browse.project_of(services.pool, browse.Owned.DEAD_LETTER, letter_id))
    if now is None:
        return
    image_id = await retries.retry_image(services.pool, letter_id, by=now.user.email)
    if image_id is None:
        ui.notify("Already retried, or the image is no longer failed.", type="warning")
    else:
        ui.notify(f"Image {image_id} is back in the pipeline")


async def _retry_notification(services: UiServices, viewer: Viewer, letter_id: int) -> None:
    now = await fresh(services, viewer)
    if now is None or not await _visible_letters(services, now, letter=letter_id):
        ui.notify("That dead letter is not yours to retry.", type="negative")
        return
    try:
        notification_id = await retries.retry_notification(
            services.pool, letter_id, by=now.user.email, enqueue_deliveries=services.enqueue_deliveries
        )
    except retries.NoDelivery as refused:
        ui.notify(str(refused), type="negative")
        return
    if notification_id is None:
        ui.notify("Already retried.", type="warning")
    else:
        ui.notify("The notification is queued to be sent again")
