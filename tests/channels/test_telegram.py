"""Telegram alerts through the real aiogram client, against the local Bot API stand-in."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from addax.channels.errors import DeliveryFailed
from addax.channels.telegram import Incoming, TelegramChannel
from addax.config import Telegram
from tests.conftest import free_port
from tests.telegram_standin import TelegramStandIn

PHOTO = b"\xff\xd8\xff\xe0 an annotated photo " + bytes(range(256)) * 400
CHAT = 424242


@pytest.fixture
async def channel(telegram_api: TelegramStandIn) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(telegram_api.settings())
    yield channel
    await channel.close()


async def test_username_is_asked_once(channel: TelegramChannel, telegram_api: TelegramStandIn) -> None:
    assert await channel.username() == "AddaxTestBot"
    assert await channel.username() == "AddaxTestBot"
    assert len(telegram_api.calls_of("getMe")) == 1


async def test_send_photo_streams_the_photo_with_its_caption(
    channel: TelegramChannel, telegram_api: TelegramStandIn
) -> None:
    caption = "<b>Roe deer</b> (animal, 93%)"
    await channel.send_alert(CHAT, caption, PHOTO, filename="detection-42.jpg")

    [call] = await telegram_api.wait_for_calls("sendPhoto", 1)
    assert call.params == {"chat_id": str(CHAT), "caption": caption, "parse_mode": "HTML"}
    assert call.content_type == "multipart/form-data"
    assert call.transfer_encoding == "chunked"
    assert hashlib.sha256(call.files["photo"]).hexdigest() == hashlib.sha256(PHOTO).hexdigest()


async def test_send_message_without_a_photo(channel: TelegramChannel, telegram_api: TelegramStandIn) -> None:
    await channel.send_alert(CHAT, "⚠️ <b>cam-07 is silent</b>")
    await channel.reply(CHAT, "Alerts stopped. <Send /start to begin again>")

    alert, reply = await telegram_api.wait_for_calls("sendMessage", 2)
    assert alert.params == {"chat_id": str(CHAT), "text": "⚠️ <b>cam-07 is silent</b>", "parse_mode": "HTML"}
    assert reply.params == {"chat_id": str(CHAT), "text": "Alerts stopped. <Send /start to begin again>"}
    assert not telegram_api.calls_of("sendPhoto")


async def test_429_says_when_to_retry(channel: TelegramChannel, telegram_api: TelegramStandIn) -> None:
    telegram_api.fail_next("sendPhoto", status=429, retry_after=3)
    with pytest.raises(DeliveryFailed) as failure:
        await channel.send_alert(CHAT, "a caption", PHOTO)
    assert failure.value.retry_after_s == 3
    assert not failure.value.permanent

    await channel.send_alert(CHAT, "a caption", PHOTO)
    assert len(await telegram_api.wait_for_calls("sendPhoto", 2)) == 2


@pytest.mark.parametrize(
    ("status", "description"),
    [(403, "Forbidden: bot was blocked by the user"), (400, "Bad Request: chat not found")],
)
async def test_a_blocked_bot_or_a_missing_chat_is_permanent(
    channel: TelegramChannel, telegram_api: TelegramStandIn, status: int, description: str
) -> None:
    telegram_api.fail_next("sendMessage", status=status, description=description)
    with pytest.raises(DeliveryFailed) as failure:
        await channel.send_alert(CHAT, "hello")
    assert failure.value.permanent
    assert failure.value.retry_after_s is None
    assert description in str(failure.value)


async def test_a_server_error_is_transient(channel: TelegramChannel, telegram_api: TelegramStandIn) -> None:
    telegram_api.fail_next("sendMessage", status=500)
    with pytest.raises(DeliveryFailed) as failure:
        await channel.send_alert(CHAT, "hello")
    assert not failure.value.permanent


async def test_a_wrong_token_is_a_clear_permanent_failure_without_the_token(telegram_api: TelegramStandIn) -> None:
    channel = TelegramChannel(telegram_api.settings(bot_token="123456:wrong-secret-token"))
    try:
        with pytest.raises(DeliveryFailed, match=r"telegram\.bot_token") as failure:
            await channel.send_alert(CHAT, "hello")
    finally:
        await channel.close()
    assert failure.value.permanent
    assert "401" in str(failure.value)
    assert "wrong-secret-token" not in str(failure.value)


@pytest.mark.parametrize(
    ("token", "reason"), [("", r"telegram\.bot_token is not set"), ("no-colon", r"not a bot token")]
)
async def test_a_missing_or_malformed_token_is_permanent(token: str, reason: str) -> None:
    channel = TelegramChannel(Telegram(bot_token=token))
    with pytest.raises(DeliveryFailed, match=reason) as failure:
        await channel.username()
    assert failure.value.permanent
    await channel.close()


async def test_an_unreachable_api_is_transient() -> None:
    channel = TelegramChannel(Telegram(bot_token="123456:secret", api_base_url=f"http://127.0.0.1:{free_port()}"))
    try:
        with pytest.raises(DeliveryFailed) as failure:
            await channel.send_alert(CHAT, "hello")
    finally:
        await channel.close()
    assert not failure.value.permanent
    assert "123456:secret" not in str(failure.value)


async def test_updates_return_a_start_command_and_the_offset_advances(
    channel: TelegramChannel, telegram_api: TelegramStandIn
) -> None:
    first = telegram_api.queue_message(CHAT, "/start abc", username="anna")
    edited = telegram_api.queue_update(
        {"edited_message": {"message_id": 9, "date": 0, "chat": {"id": 1, "type": "private"}}}
    )

    updates = await channel.updates(None, timeout_s=5)
    assert updates == [
        Incoming(update_id=first, chat_id=CHAT, text="/start abc", username="anna"),
        Incoming(update_id=edited, chat_id=0, text="", username=None),
    ]
    assert await channel.updates(updates[-1].update_id + 1, timeout_s=0) == []
    assert telegram_api.calls_of("getUpdates")[-1].params["offset"] == str(edited + 1)


async def test_a_long_poll_returns_when_a_message_arrives(
    channel: TelegramChannel, telegram_api: TelegramStandIn
) -> None:
    poll = asyncio.create_task(channel.updates(None, timeout_s=30))
    await telegram_api.wait_for_calls("getUpdates", 1)
    assert not poll.done()

    update_id = telegram_api.queue_message(CHAT, "/stop@AddaxTestBot", username=None)
    async with asyncio.timeout(5):
        updates = await poll
    assert updates == [Incoming(update_id=update_id, chat_id=CHAT, text="/stop@AddaxTestBot", username=None)]


async def test_webhook_set_and_deleted(channel: TelegramChannel, telegram_api: TelegramStandIn) -> None:
    await channel.set_webhook("https://addax.example/telegram/webhook", "s3cret")
    assert telegram_api.webhook == {"url": "https://addax.example/telegram/webhook", "secret_token": "s3cret"}
    await channel.delete_webhook()
    assert telegram_api.webhook is None


async def test_the_stand_in_answers_an_unknown_method_with_404(telegram_api: TelegramStandIn) -> None:
    url = f"{telegram_api.base_url}/bot{telegram_api.token}/sendDice"
    async with aiohttp.ClientSession() as session, session.post(url, data={"chat_id": "1"}) as response:
        assert response.status == 404
        assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
