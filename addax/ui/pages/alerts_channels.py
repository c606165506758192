"""``/alerts``, the channels and the log: where my alerts go (e-mail, a linked Telegram chat) and what was sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import segno
from nicegui import ui

from addax.channels.errors import DeliveryFailed
from addax.store import notifications, telegram
from addax.ui.context import UiServices
from addax.ui.session import Viewer, current_viewer

LOG_PAGE = 20
STATUS_COLORS = {"sent": "positive", "failed": "negative", "suppressed": "grey-7", "pending": "warning"}


def qr_data_url(text: str) -> str:
    return str(segno.make(text, error="m").svg_data_uri(scale=5, border=2))


async def channels(services: UiServices, viewer: Viewer) -> None:
    with ui.card().classes("w-full"):
        ui.label("E-mail").classes("text-subtitle1 text-weight-medium")
        ui.label(f"Alerts by e-mail go to {viewer.user.email}.")
        if not services.email_ready:
            ui.label("No mail server is set up on this server (ask your admin): e-mail alerts are not sent.").classes(
                "text-orange-10"
            )
    with ui.card().classes("w-full"):
        ui.label("Telegram").classes("text-subtitle1 text-weight-medium")
        if services.telegram_username is None:
            ui.label("No Telegram bot is set up on this server (ask your admin).")
            return
        await _telegram(services, viewer)


async def _telegram(services: UiServices, viewer: Viewer) -> None:
    user_id = viewer.user.id

    @ui.refreshable
    async def status() -> None:
        link = await telegram.link_of(services.pool, user_id)
        if link is None:
            ui.label("Not linked: link a chat to get alerts in Telegram.")
            return
        who = f"@{link.username}" if link.username else "a chat"
        with ui.row().classes("items-center q-gutter-sm"):
            ui.label(f"Linked to chat {who} ({link.chat_id}).").classes("text-positive")
            ui.button("Unlink", on_click=unlink).props("outline color=negative dense")

    async def signed_in_still() -> bool:
        if await current_viewer(services.pool, viewer) is None:
            ui.navigate.to("/login")
            return False
        return True

    async def unlink() -> None:
        if not await signed_in_still():
            return
        await telegram.unlink_user(services.pool, user_id, by=viewer.user.email)
        ui.notify("Telegram unlinked")
        status.refresh()

    async def make_link() -> None:
        assert services.telegram_username is not None
        if not await signed_in_still():  # a link would attach a chat to this account: only for its user, now
            return
        try:
            bot = await services.telegram_username()
        except DeliveryFailed as error:  # the bot API is down or the token is wrong
            ui.notify(f"Telegram is not reachable: {error}", type="negative")
            return
        link, expires_at = await telegram.deep_link(services.pool, user_id, bot)
        offer.clear()
        with offer:
            ui.label(f"Open this link on the phone with Telegram (or scan the code), then press Start in @{bot}:")
            ui.link(link, link, new_tab=True).classes("text-body2").style("word-break: break-all")
            ui.image(qr_data_url(link)).classes("w-48 h-48").props(
                "alt='QR code of the Telegram link' fit=contain no-spinner no-transition"
            )
            ui.label(f"The link works once, until {expires_at:%Y-%m-%d %H:%M} UTC.").classes("text-caption")

    await status()
    ui.button("Link Telegram", icon="send", on_click=make_link).props("color=primary")
    offer = ui.column().classes("w-full items-start")
    ui.timer(5.0, status.refresh)  # the chat is linked in Telegram, not here: show it when it happens


async def log(services: UiServices, viewer: Viewer) -> None:
    pages: list[int | None] = [None]  # the "before" of each page shown so far

    @ui.refreshable
    async def listing() -> None:
        found = await notifications.listing(services.pool, user_id=viewer.user.id, before=pages[-1], limit=LOG_PAGE)
        if not found:
            ui.label("Nothing sent to you yet." if len(pages) == 1 else "No older notifications.")
        for row in found:
            _entry(row)
        with ui.row().classes("q-gutter-sm"):
            if len(pages) > 1:
                ui.button("Newer", icon="chevron_left", on_click=newer).props("flat")
            if len(found) == LOG_PAGE:
                ui.button("Older", icon="chevron_right", on_click=lambda: older(found[-1]["id"])).props("flat")

    def older(before: int) -> None:
        pages.append(before)
        listing.refresh()

    def newer() -> None:
        pages.pop()
        listing.refresh()

    await listing()


def _entry(row: dict[str, Any]) -> None:
    created: datetime = row["created_at"]
    with ui.card().classes("w-full q-pa-sm").props("flat bordered"):
        with ui.row().classes("items-center q-gutter-xs w-full no-wrap"):
            ui.badge(row["status"], color=STATUS_COLORS.get(row["status"], "grey"))
            ui.icon("mail" if row["channel"] == "email" else "send", size="xs")
            ui.label(row["subject"]).classes("text-weight-medium ellipsis")
        details = f"{created:%Y-%m-%d %H:%M} UTC · {row['channel']}"
        if row["rule"]:
            details += f" · rule “{row['rule']}”"
        ui.label(details).classes("text-caption text-grey-8")
        if row["error"]:
            why = "Why it failed" if row["status"] == "failed" else "Why"
            ui.label(f"{why}: {row['error']}").classes("text-caption text-negative").style("word-break: break-word")
