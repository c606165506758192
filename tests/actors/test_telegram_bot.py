"""The Telegram bot links a chat with ``/start <token>`` and unlinks it with ``/stop``: the real aiogram client
long-polling the Telegram stand-in, over a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
import pytest

from addax.actors.telegram_bot import BAD_LINK, HELP, LINKED, NOT_LINKED, UNLINKED, TelegramBot
from addax.channels.telegram import TelegramChannel
from addax.domain.secrets import hash_password, token_digest
from addax.runtime import Supervisor
from addax.store import accounts, telegram
from addax.store.database import open_database, ping
from tests.telegram_standin import TelegramStandIn


@dataclass
class Chat:
    pool: asyncpg.Pool
    bot: TelegramStandIn
    user_id: int
    email: str
    actor: TelegramBot

    async def says(self, chat_id: int, text: str) -> str:
        """Write to the bot; its answer."""
        answered = len(self.bot.calls_of("sendMessage"))
        self.bot.queue_message(chat_id, text)
        calls = await self.bot.wait_for_calls("sendMessage", answered + 1)
        reply = calls[answered]
        assert reply.params["chat_id"] == str(chat_id)
        return reply.params["text"]


@pytest.fixture
async def chat(fresh_dsn: str, telegram_api: TelegramStandIn, unique: str) -> AsyncIterator[Chat]:
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=4), probe=ping)
        email = f"ranger-{unique}@example.org"
        user_id = await accounts.add_user(
            pool, email, hash_password("pw"), role=accounts.Role.SERVER_ADMIN, project=None, by="t"
        )
        channel = TelegramChannel(telegram_api.settings(poll_timeout_s=1))
        actor = TelegramBot(pool=pool, channel=channel, poll_timeout_s=1, retry_s=0.1)
        await supervisor.start(actor)
        yield Chat(pool, telegram_api, user_id, email, actor)


async def test_start_with_a_fresh_token_links_the_chat_once(chat: Chat) -> None:
    await telegram.add_link_token(chat.pool, chat.user_id, token_digest("one-time"), valid_for=timedelta(hours=24))
    assert await chat.says(501, "/start one-time") == LINKED.format(email=chat.email)
    link = await telegram.link_of(chat.pool, chat.user_id)
    assert link is not None and (link.chat_id, link.username) == (501, "ranger")
    # The token is used up: another chat cannot take the link with it.
    assert await chat.says(502, "/start one-time") == BAD_LINK
    link = await telegram.link_of(chat.pool, chat.user_id)
    assert link is not None and link.chat_id == 501


async def test_an_expired_or_unknown_token_links_nothing(chat: Chat) -> None:
    await telegram.add_link_token(chat.pool, chat.user_id, token_digest("stale"), valid_for=timedelta(seconds=-1))
    assert await chat.says(601, "/start stale") == BAD_LINK
    assert await chat.says(601, "/start made-up") == BAD_LINK
    assert await telegram.link_of(chat.pool, chat.user_id) is None


async def test_stop_unlinks_and_other_text_gets_help(chat: Chat) -> None:
    await telegram.add_link_token(chat.pool, chat.user_id, token_digest("t2"), valid_for=timedelta(hours=1))
    await chat.says(701, "/start t2")
    assert await chat.says(701, "/stop") == UNLINKED
    assert await telegram.link_of(chat.pool, chat.user_id) is None
    assert await chat.says(701, "/stop") == NOT_LINKED
    assert await chat.says(701, "hello?") == HELP
    audit = await chat.pool.fetch("SELECT action FROM audit_log WHERE action LIKE 'telegram.%' ORDER BY id")
    assert [row["action"] for row in audit] == ["telegram.link", "telegram.unlink"]


async def test_the_bot_keeps_polling_after_telegram_fails(chat: Chat) -> None:
    polls = len(chat.bot.calls_of("getUpdates"))
    chat.bot.fail_next("getUpdates", status=502)
    await chat.bot.wait_for_calls("getUpdates", polls + 2)  # the one that failed, and the next
    assert chat.actor.last_error is not None and "Bad Gateway" in chat.actor.last_error
    await telegram.add_link_token(chat.pool, chat.user_id, token_digest("t3"), valid_for=timedelta(hours=1))
    assert await chat.says(801, "/start t3") == LINKED.format(email=chat.email)
    assert chat.actor.restarts == 0, "a failing Telegram is waited out, not a crash"


async def test_two_chats_racing_with_one_token_link_one_of_them(chat: Chat) -> None:
    await telegram.add_link_token(chat.pool, chat.user_id, token_digest("race"), valid_for=timedelta(hours=1))
    won = await asyncio.gather(
        *(telegram.link(chat.pool, token_digest("race"), chat_id=900 + n, username=None) for n in range(2))
    )
    assert sorted(won, key=str) == [None, chat.email]
    link = await telegram.link_of(chat.pool, chat.user_id)
    assert link is not None and link.chat_id in {900, 901}
