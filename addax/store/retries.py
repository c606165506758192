"""Trying a dead letter again, for the API and the dashboard alike: the access checks stay with the caller, the
change and its audit record are here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg

from addax.store import audit, notifications, work


@dataclass(frozen=True, slots=True)
class Letter:
    image_id: int | None
    notification_id: int | None


class NoDelivery(Exception):
    """A notification's dead letter, but nothing in this process delivers notifications."""


async def letter(pool: asyncpg.Pool, letter_id: int) -> Letter | None:
    """What a dead letter is about (None: no such letter); says nothing of who may see it."""
    row = await pool.fetchrow("SELECT image_id, notification_id FROM dead_letters WHERE id = $1", letter_id)
    return Letter(row["image_id"], row["notification_id"]) if row is not None else None


async def retry_image(pool: asyncpg.Pool, letter_id: int, *, by: str) -> int | None:
    """The failed image back into the stage whose work failed; its id, or None: already retried, or no longer
    failed."""
    image_id = await work.retry_dead_letter(pool, letter_id)
    if image_id is not None:
        await audit.record(pool, actor=by, action="dead_letter.retry", target=f"image:{image_id}")
    return image_id


async def retry_notification(
    pool: asyncpg.Pool,
    letter_id: int,
    *,
    by: str,
    enqueue_deliveries: Callable[[Sequence[int]], Awaitable[None]] | None,
) -> int | None:
    """An undelivered notification pending again and queued; its id, or None when it was already retried."""
    if enqueue_deliveries is None:
        raise NoDelivery("nothing delivers notifications in this process")
    async with pool.acquire() as connection, connection.transaction():
        notification_id = await notifications.retry_dead_letter(connection, letter_id)
    if notification_id is None:
        return None
    await enqueue_deliveries([notification_id])
    await audit.record(pool, actor=by, action="dead_letter.retry", target=f"notification:{notification_id}")
    return notification_id
