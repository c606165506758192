"""Alerts by Telegram: a bot (aiogram 3) that sends photos and messages and reads what users write to it.

Every failure is a :class:`DeliveryFailed`: Telegram's 429 carries ``retry_after_s``; a refusal that
retrying cannot change (the bot was blocked, the chat does not exist, the token is wrong) is permanent;
a network error or a 5xx is transient. The bot token never appears in a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, Update
from aiogram.utils.token import TokenValidationError
from pydantic import ValidationError

from addax.channels.errors import DeliveryFailed
from addax.config import Telegram

ALLOWED_UPDATES = ["message"]
REQUEST_TIMEOUT_S = 30
"""For a request other than a long poll; a long poll waits its own timeout plus this."""


@dataclass(frozen=True, slots=True)
class Incoming:
    """One update from Telegram. ``text`` is "" for an update that is not a text message (skip it)."""

    update_id: int
    chat_id: int
    text: str
    username: str | None


class TelegramChannel:
    """One bot, one HTTP session (opened on the first call, closed by :meth:`close`)."""

    def __init__(self, settings: Telegram) -> None:
        self._settings = settings
        self._bot: Bot | None = None
        self._username: str | None = None

    async def username(self) -> str:
        """The bot's @username (getMe), remembered after the first success."""
        if self._username is None:
            me = await self._call("getMe", self._connect().get_me())
            self._username = me.username or ""
        return self._username

    async def send_alert(
        self, chat_id: int, text: str, photo: bytes | None = None, *, filename: str = "photo.jpg"
    ) -> None:
        """``text`` in HTML parse mode; as the photo's caption (at most 1024 characters) when a photo is given."""
        bot = self._connect()
        if photo is None:
            await self._call("sendMessage", bot.send_message(chat_id, text, parse_mode="HTML"))
        else:
            file = BufferedInputFile(photo, filename=filename)
            await self._call("sendPhoto", bot.send_photo(chat_id, file, caption=text, parse_mode="HTML"))

    async def reply(self, chat_id: int, text: str) -> None:
        """A plain-text answer to a user (no parse mode: what the user wrote can be quoted safely)."""
        await self._call("sendMessage", self._connect().send_message(chat_id, text, parse_mode=None))

    async def updates(self, offset: int | None, timeout_s: int) -> list[Incoming]:
        """getUpdates by long polling: waits up to ``timeout_s`` for news after ``offset``.

        Every update comes back, including those that are not a text message (with ``text`` ""), so the next
        offset is always the last ``update_id`` + 1; asking with that offset confirms the earlier ones.
        """
        request = self._connect().get_updates(
            offset=offset,
            timeout=timeout_s,
            allowed_updates=ALLOWED_UPDATES,
            request_timeout=timeout_s + REQUEST_TIMEOUT_S,
        )
        return [_incoming(update) for update in await self._call("getUpdates", request)]

    async def set_webhook(self, url: str, secret: str) -> None:
        """Telegram posts updates to ``url`` with the header X-Telegram-Bot-Api-Secret-Token: ``secret``."""
        request = self._connect().set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
        await self._call("setWebhook", request)

    async def delete_webhook(self) -> None:
        await self._call("deleteWebhook", self._connect().delete_webhook())

    async def close(self) -> None:
        if self._bot is not None:
            await self._bot.session.close()
            self._bot = None

    def _connect(self) -> Bot:
        if self._bot is None:
            token = self._settings.bot_token
            if not token:
                raise DeliveryFailed("telegram.bot_token is not set", permanent=True)
            try:
                api = TelegramAPIServer.from_base(self._settings.api_base_url)
                session = AiohttpSession(api=api, timeout=REQUEST_TIMEOUT_S)
                self._bot = Bot(token, session=session)
            except TokenValidationError:
                raise DeliveryFailed("telegram.bot_token is not a bot token (digits:letters)", permanent=True) from None
        return self._bot

    async def _call(self, method: str, request: Any) -> Any:
        try:
            return await request
        except TelegramRetryAfter as error:
            raise DeliveryFailed(
                f"Telegram {method}: too many requests, retry after {error.retry_after} s",
                retry_after_s=float(error.retry_after),
            ) from None
        except TelegramUnauthorizedError:
            raise DeliveryFailed(
                f"Telegram {method}: the bot token was refused (401 Unauthorized); check telegram.bot_token",
                permanent=True,
            ) from None
        except (TelegramForbiddenError, TelegramBadRequest, TelegramNotFound, TelegramEntityTooLarge) as error:
            raise DeliveryFailed(f"Telegram {method}: {self._clean(error.message)}", permanent=True) from None
        except (TelegramAPIError, AiogramError) as error:  # network errors, 5xx, 409 (a webhook is set), bad JSON
            raise DeliveryFailed(f"Telegram {method}: {self._clean(str(error))}") from None

    def _clean(self, text: str) -> str:
        """One line, and never the token (aiohttp's errors can quote the URL, which holds it)."""
        line = " ".join(text.split())
        token = self._settings.bot_token
        return line.replace(token, "<token>") if token else line


def parse_update(data: Any) -> Incoming:
    """An update as Telegram posts it to a webhook (JSON already decoded); ValueError when it is not one."""
    try:
        return _incoming(Update.model_validate(data))
    except ValidationError as error:
        raise ValueError(f"not a Telegram update: {error.error_count()} problem(s)") from None


def _incoming(update: Update) -> Incoming:
    message = update.message
    if message is None:
        return Incoming(update_id=update.update_id, chat_id=0, text="", username=None)
    user = message.from_user
    return Incoming(
        update_id=update.update_id,
        chat_id=message.chat.id,
        text=message.text or "",
        username=user.username if user is not None else None,
    )
