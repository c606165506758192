"""Which Telegram chat belongs to which user, and the one-time tokens of the deep links that join them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from addax.domain.secrets import token_digest
from addax.store import audit

LINK_VALID_FOR = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Link:
    chat_id: int
    username: str | None


async def add_link_token(pool: asyncpg.Pool, user_id: int, digest: bytes, *, valid_for: timedelta) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("DELETE FROM telegram_link_tokens WHERE expires_at < now()")
        await connection.execute(
            "INSERT INTO telegram_link_tokens (token_sha256, user_id, expires_at) VALUES ($1, $2, now() + $3)",
            digest,
            user_id,
            valid_for,
        )


async def deep_link(pool: asyncpg.Pool, user_id: int, bot_username: str) -> tuple[str, datetime]:
    """A fresh one-time ``t.me`` link that joins the chat that opens it to the user, and when it expires."""
    token = secrets.token_urlsafe(24)
    await add_link_token(pool, user_id, token_digest(token), valid_for=LINK_VALID_FOR)
    return f"https://t.me/{bot_username}?start={token}", datetime.now(UTC) + LINK_VALID_FOR


async def link(pool: asyncpg.Pool, digest: bytes, *, chat_id: int, username: str | None) -> str | None:
    """Use up a deep-link token: the chat now gets that user's alerts. Returns the user's e-mail, or None
    when the token is unknown, used or expired."""
    async with pool.acquire() as connection, connection.transaction():
        user_id = await connection.fetchval(
            "DELETE FROM telegram_link_tokens WHERE token_sha256 = $1 AND expires_at > now() RETURNING user_id",
            digest,
        )
        if user_id is None:
            return None
        # One chat belongs to one user: linking it elsewhere takes it from whoever had it.
        await connection.execute("DELETE FROM telegram_links WHERE chat_id = $1 AND user_id <> $2", chat_id, user_id)
        await connection.execute(
            """INSERT INTO telegram_links (user_id, chat_id, username) VALUES ($1, $2, $3)
               ON CONFLICT (user_id) DO UPDATE SET chat_id = $2, username = $3, linked_at = now()""",
            user_id,
            chat_id,
            username,
        )
        email = str(await connection.fetchval("SELECT email FROM users WHERE id = $1", user_id))
        await audit.record(connection, actor=email, action="telegram.link", target=f"chat:{chat_id}")
        return email


async def unlink_chat(pool: asyncpg.Pool, chat_id: int) -> str | None:
    """``/stop`` from a chat; the user it was linked to, or None."""
    async with pool.acquire() as connection, connection.transaction():
        email = await connection.fetchval(
            """DELETE FROM telegram_links t USING users u WHERE t.chat_id = $1 AND u.id = t.user_id
               RETURNING u.email""",
            chat_id,
        )
        if email is not None:
            await audit.record(connection, actor=email, action="telegram.unlink", target=f"chat:{chat_id}")
        return email  # type: ignore[no-any-return]


async def unlink_user(pool: asyncpg.Pool, user_id: int, *, by: str) -> bool:
    async with pool.acquire() as connection, connection.transaction():
        chat_id = await connection.fetchval("DELETE FROM telegram_links WHERE user_id = $1 RETURNING chat_id", user_id)
        if chat_id is not None:
            await audit.record(connection, actor=by, action="telegram.unlink", target=f"chat:{chat_id}")
        return chat_id is not None


async def link_of(pool: asyncpg.Pool, user_id: int) -> Link | None:
    row = await pool.fetchrow("SELECT chat_id, username FROM telegram_links WHERE user_id = $1", user_id)
    return Link(row["chat_id"], row["username"]) if row else None
