"""Turning "tell these users about this" into notification rows, one per user and channel.

Used inside the transaction that decided to alert (the notifier's match, a scheduled check), so that the
decision and the outbox commit together. A message that cannot go out (the channel is not set up, the user
has no linked chat, the recipient is not allowed) is recorded at once as suppressed or failed, with why:
the notification log shows it instead of a silence nobody can explain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from addax.domain.delivery import suppressed_reason
from addax.store import notifications
from addax.store.notifications import Message, Outgoing


@dataclass(frozen=True, slots=True)
class Addressing:
    """What the configuration allows: which channels work here and who may receive anything."""

    enabled: bool = True
    allowed_recipients: tuple[str, ...] = ()
    email_ready: bool = True
    telegram_ready: bool = True


async def address(
    connection: asyncpg.Connection,
    addressing: Addressing,
    message: Message,
    *,
    user_ids: Iterable[int],
    channels: Iterable[str],
    only_linked: bool = False,
) -> list[int]:
    """Record the message for each user on each channel; the ids that wait to be delivered. ``only_linked``:
    skip Telegram for users without a linked chat (instead of logging a failure for them)."""
    reachable = await notifications.recipients(connection, user_ids)
    waiting: list[int] = []
    for _, recipient in sorted(reachable.items()):
        for channel in channels:
            if only_linked and channel == "telegram" and recipient.chat_id is None:
                continue
            outgoing = _outgoing(addressing, message, channel, recipient)
            notification_id = await notifications.add(connection, outgoing)
            if notification_id is not None and outgoing.status == "pending":
                waiting.append(notification_id)
    return waiting


def _outgoing(addressing: Addressing, message: Message, channel: str, recipient: notifications.Recipient) -> Outgoing:
    address_of = recipient.email if channel == "email" else str(recipient.chat_id or "")
    status, error = "pending", None
    if channel == "email" and not addressing.email_ready:
        status, error = "failed", "e-mail is not set up on this server (smtp.host, smtp.from_address)"
    elif channel == "telegram" and not addressing.telegram_ready:
        status, error = "failed", "Telegram is not set up on this server (telegram.bot_token)"
    elif channel == "telegram" and recipient.chat_id is None:
        status, error = "failed", "no Telegram chat is linked to this user (link one on the Alerts page)"
    elif (reason := suppressed_reason(addressing.enabled, addressing.allowed_recipients, address_of)) is not None:
        status, error = "suppressed", reason
    return Outgoing(
        message=message, user_id=recipient.user_id, channel=channel, recipient=address_of, status=status, error=error
    )
