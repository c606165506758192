"""The notification outbox: what matched, to whom, on which channel, and what became of it.

A notification is written in the transaction that decided it (a photo matched, a scheduled check fired),
keyed by its delivery key, before anything is sent; a delivery job then sends it and records the outcome.
So a crash between the two sends it later, exactly once to the outbox, and the log shows every message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from addax.store import work


@dataclass(frozen=True, slots=True)
class Message:
    """What to tell, and what about: the same for every user and channel it goes to."""

    key: str  # what this message is about, unique per rule and thing: 'rule:7:event:42'
    kind: str  # the template
    subject: str
    payload: dict[str, Any]
    rule_id: int | None = None
    project_id: int | None = None
    camera_id: int | None = None
    image_id: int | None = None
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message to one user on one channel."""

    message: Message
    user_id: int
    channel: str  # email | telegram
    recipient: str  # address or chat id
    status: str = "pending"  # or, decided at once, 'suppressed' / 'failed' with the reason in error
    error: str | None = None

    @property
    def delivery_key(self) -> str:
        return f"{self.message.key}:user:{self.user_id}:{self.channel}"


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    email: str
    chat_id: int | None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    channel: str
    recipient: str
    kind: str
    subject: str
    payload: dict[str, Any]
    image_id: int | None
    attempts: int
    user_id: int | None
    project_id: int | None


async def add(connection: asyncpg.Connection, outgoing: Outgoing) -> int | None:
    """Record a notification; None when its delivery key was recorded before (already matched)."""
    return await connection.fetchval(  # type: ignore[no-any-return]
        """INSERT INTO notifications (delivery_key, rule_id, user_id, project_id, camera_id, image_id, event_id,
               channel, recipient, kind, subject, payload, status, error)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb, $13, $14)
           ON CONFLICT (delivery_key) DO NOTHING RETURNING id""",
        outgoing.delivery_key,
        outgoing.message.rule_id,
        outgoing.user_id,
        outgoing.message.project_id,
        outgoing.message.camera_id,
        outgoing.message.image_id,
        outgoing.message.event_id,
        outgoing.channel,
        outgoing.recipient,
        outgoing.message.kind,
        outgoing.message.subject,
        json.dumps(outgoing.message.payload, default=str),
        outgoing.status,
        outgoing.error,
    )


async def recipients(db: asyncpg.Connection | asyncpg.Pool, user_ids: Iterable[int]) -> dict[int, Recipient]:
    """Where each (enabled) user can be reached."""
    rows = await db.fetch(
        """SELECT u.id, u.email, t.chat_id FROM users u LEFT JOIN telegram_links t ON t.user_id = u.id
           WHERE u.id = ANY($1::bigint[]) AND NOT u.disabled""",
        list(set(user_ids)),
    )
    return {row["id"]: Recipient(row["id"], row["email"], row["chat_id"]) for row in rows}


async def project_members(db: asyncpg.Connection | asyncpg.Pool, project_id: int) -> list[int]:
    rows = await db.fetch("SELECT user_id FROM memberships WHERE project_id = $1", project_id)
    return [int(row["user_id"]) for row in rows]


async def server_admins(db: asyncpg.Connection | asyncpg.Pool) -> list[int]:
    rows = await db.fetch("SELECT id FROM users WHERE is_server_admin AND NOT disabled ORDER BY id")
    return [int(row["id"]) for row in rows]


async def pending(pool: asyncpg.Pool, *, older_than_s: float = 0.0, limit: int = 1000) -> list[int]:
    """Notifications not yet sent (for the sweeper that re-enqueues what a crash left behind)."""
    rows = await pool.fetch(
        """SELECT id FROM notifications WHERE status = 'pending'
             AND created_at <= now() - make_interval(secs => $1)
           ORDER BY id LIMIT $2""",
        older_than_s,
        limit,
    )
    return [int(row["id"]) for row in rows]


async def for_delivery(pool: asyncpg.Pool, notification_id: int) -> Delivery | None:
    """The notification if it still waits to be sent."""
    row = await pool.fetchrow(
        """SELECT id, channel, recipient, kind, subject, payload, image_id, attempts, user_id, project_id
           FROM notifications WHERE id = $1 AND status = 'pending'""",
        notification_id,
    )
    if row is None:
        return None
    payload = row["payload"]
    return Delivery(
        id=row["id"],
        channel=row["channel"],
        recipient=row["recipient"],
        kind=row["kind"],
        subject=row["subject"],
        payload=payload,
        image_id=row["image_id"],
        attempts=row["attempts"],
        user_id=row["user_id"],
        project_id=row["project_id"],
    )


async def mark_sent(pool: asyncpg.Pool, notification_id: int) -> None:
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            """UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1, error = NULL
               WHERE id = $1 AND status = 'pending'
               RETURNING id, user_id, project_id, rule_id, channel, kind, subject, image_id, event_id, sent_at""",
            notification_id,
        )
        if row is not None:
            await work.announce(connection, "alert.sent", dict(row))


async def failed_attempt(pool: asyncpg.Pool, notification_id: int, error: str, *, counted: bool = True) -> int:
    """Record a failed try (``counted``: as an attempt); returns the attempts so far."""
    attempts = await pool.fetchval(
        """UPDATE notifications SET attempts = attempts + $3::int, error = $2
           WHERE id = $1 AND status = 'pending' RETURNING attempts""",
        notification_id,
        error[:1000],
        1 if counted else 0,
    )
    return int(attempts or 0)


async def suppress(pool: asyncpg.Pool, notification_id: int, reason: str) -> None:
    await pool.execute(
        "UPDATE notifications SET status = 'suppressed', error = $2 WHERE id = $1 AND status = 'pending'",
        notification_id,
        reason,
    )


async def give_up(pool: asyncpg.Pool, notification_id: int, error: str) -> None:
    """The last attempt failed, or the failure is permanent: failed, and a dead letter to retry by hand."""
    async with pool.acquire() as connection, connection.transaction():
        attempts = await connection.fetchval(
            """UPDATE notifications SET status = 'failed', attempts = attempts + 1, error = $2
               WHERE id = $1 AND status = 'pending' RETURNING attempts""",
            notification_id,
            error[:1000],
        )
        if attempts is None:
            return
        await connection.execute(
            "INSERT INTO dead_letters (notification_id, stage, error, attempts) VALUES ($1, 'notify', $2, $3)",
            notification_id,
            error[:1000],
            attempts,
        )


async def retry_dead_letter(connection: asyncpg.Connection, letter_id: int) -> int | None:
    """Send a failed notification again: it is pending once more (the caller enqueues its delivery)."""
    notification_id = await connection.fetchval(
        """UPDATE dead_letters SET retried_at = now()
           WHERE id = $1 AND retried_at IS NULL AND notification_id IS NOT NULL RETURNING notification_id""",
        letter_id,
    )
    if notification_id is None:
        return None
    await connection.execute(
        "UPDATE notifications SET status = 'pending', attempts = 0, error = NULL WHERE id = $1", notification_id
    )
    return int(notification_id)


async def listing(
    pool: asyncpg.Pool, *, user_id: int | None, before: int | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Newest first; ``user_id`` None: everyone's (for a server admin)."""
    rows = await pool.fetch(
        """SELECT n.id, n.created_at, n.sent_at, n.status, n.channel, n.recipient, n.kind, n.subject, n.error,
                  n.attempts, n.rule_id, r.name AS rule, n.project_id, n.camera_id, n.image_id, n.event_id,
                  u.email AS user
           FROM notifications n LEFT JOIN alert_rules r ON r.id = n.rule_id LEFT JOIN users u ON u.id = n.user_id
           WHERE ($1::bigint IS NULL OR n.user_id = $1) AND ($2::bigint IS NULL OR n.id < $2)
           ORDER BY n.id DESC LIMIT $3""",
        user_id,
        before,
        limit,
    )
    return [dict(row) for row in rows]


async def last_alert_at(
    connection: asyncpg.Connection, rule_id: int, camera_id: int | None, *, other_than_event: int | None
) -> datetime | None:
    """When this rule last alerted about this camera (for its cooldown), not counting the given event."""
    return await connection.fetchval(  # type: ignore[no-any-return]
        """SELECT max(created_at) FROM notifications
           WHERE rule_id = $1 AND camera_id IS NOT DISTINCT FROM $2
             AND event_id IS DISTINCT FROM $3 AND status <> 'suppressed'""",
        rule_id,
        camera_id,
        other_than_event,
    )


async def alerted_for_event(connection: asyncpg.Connection, rule_id: int, event_id: int) -> bool:
    """Whether the rule already alerted about this event (under this id, or one merged into it)."""
    return bool(
        await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM notifications WHERE rule_id = $1 AND event_id = $2)", rule_id, event_id
        )
    )


async def counted_since(
    db: asyncpg.Connection | asyncpg.Pool, user_id: int, project_id: int, since: datetime, until: datetime
) -> int:
    """Detection alerts a user had about a project in a period: events, however many channels told them."""
    return int(
        await db.fetchval(
            """SELECT count(DISTINCT coalesce(event_id::text, delivery_key)) FROM notifications
               WHERE user_id = $1 AND project_id = $2 AND created_at >= $3 AND created_at < $4
                 AND kind = 'detection' AND status <> 'suppressed'""",
            user_id,
            project_id,
            since,
            until,
        )
    )
