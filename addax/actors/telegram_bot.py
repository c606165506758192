"""The Telegram bot's ears: ``/start <token>`` links the chat to a user, ``/stop`` unlinks it.

By default it long-polls (``getUpdates``), which needs no public URL and suits a server in a ranger
station. With ``telegram.webhook`` and a public HTTPS ``http.public_url`` Telegram posts the updates to
``/api/telegram/webhook`` instead, and the API hands them to :meth:`TelegramBot.answer`. Telegram keeps an
update until a later ``getUpdates`` confirms it (or the webhook answers 200), so an update handled just before
a crash comes again; handling it twice is harmless (a deep-link token works once, ``/stop`` of an unlinked
chat changes nothing).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg

from addax.channels.errors import DeliveryFailed
from addax.channels.telegram import Incoming, TelegramChannel
from addax.domain.secrets import token_digest
from addax.domain.telegram_commands import parse_command
from addax.runtime import Actor
from addax.store import database, telegram

log = logging.getLogger("addax.telegram")

LINKED = "Linked to {email}. Addax will send your alerts here. Send /stop to end them."
BAD_LINK = "This link is used or expired. Open the Alerts page of Addax for a new one."
UNLINKED = "Done: this chat gets no more Addax alerts. Link it again from the Alerts page."
NOT_LINKED = "This chat was not linked to Addax."
HELP = "Open the Alerts page of Addax and press 'Link Telegram' to get alerts here."


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str  # where Telegram posts the updates
    secret: str  # the X-Telegram-Bot-Api-Secret-Token header it sends with them


class TelegramBot(Actor[None]):
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        channel: TelegramChannel,
        poll_timeout_s: int,
        webhook: Webhook | None = None,
        retry_s: float = 5.0,
    ) -> None:
        super().__init__(name="telegram")
        self._pool, self._channel, self._poll_timeout_s, self._retry_s = pool, channel, poll_timeout_s, retry_s
        self.webhook = webhook
        self._offset: int | None = None
        self._registered = False

    async def on_start(self) -> None:
        try:
            name = await self._channel.username()
            log.info("telegram bot ready", extra={"bot": name, "webhook": self.webhook is not None})
            await self._register()
        except DeliveryFailed as error:  # a wrong token or no network: say so, keep trying in run()
            self.record_error(error)
            log.warning("telegram bot not reachable yet", extra={"error": str(error)})

    async def _register(self) -> None:
        """Tell Telegram how updates come: to the webhook, or by polling (which a set webhook would refuse)."""
        if self.webhook is not None:
            await self._channel.set_webhook(self.webhook.url, self.webhook.secret)
        else:
            await self._channel.delete_webhook()
        self._registered = True

    async def run(self) -> None:
        while not self._registered:
            try:
                await self._register()
            except DeliveryFailed as error:
                self.record_error(error)
                await asyncio.sleep(error.retry_after_s or self._retry_s)
        self.mark_success()
        if self.webhook is not None:
            await asyncio.Event().wait()  # the API brings the updates
        while True:
            try:
                updates = await self._channel.updates(self._offset, self._poll_timeout_s)
            except DeliveryFailed as error:
                self.record_error(error)
                log.warning("telegram getUpdates failed; retrying", extra={"error": str(error)})
                await asyncio.sleep(error.retry_after_s or self._retry_s)
                continue
            self.mark_success()
            for update in updates:
                try:
                    await self.answer(update)
                except database.OUTAGE_ERRORS as error:
                    self.record_error(error)
                    await asyncio.sleep(self._retry_s)
                    break  # not confirmed: it comes again
                self._offset = update.update_id + 1

    async def answer(self, update: Incoming) -> None:
        command = parse_command(update.text)
        if command is None:
            if update.text:
                await self._reply(update.chat_id, HELP)
            return
        name, argument = command
        if name == "start" and argument:
            email = await telegram.link(
                self._pool, token_digest(argument), chat_id=update.chat_id, username=update.username
            )
            log.info("telegram link", extra={"chat_id": update.chat_id, "linked": email is not None})
            await self._reply(update.chat_id, LINKED.format(email=email) if email else BAD_LINK)
        elif name == "start":
            await self._reply(update.chat_id, HELP)
        elif name == "stop":
            email = await telegram.unlink_chat(self._pool, update.chat_id)
            await self._reply(update.chat_id, UNLINKED if email else NOT_LINKED)

    async def _reply(self, chat_id: int, text: str) -> None:
        try:
            await self._channel.reply(chat_id, text)
        except DeliveryFailed as error:  # the link is made either way; the answer is a courtesy
            log.warning("telegram reply failed", extra={"chat_id": chat_id, "error": str(error)})

    async def on_stop(self) -> None:
        await self._channel.close()
