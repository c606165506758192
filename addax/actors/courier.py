"""Delivers notifications: an arq worker (in this process, and in every ``addax worker --roles notify``)
running one job per notification, with retries and backoff.

A job reads its notification from PostgreSQL and does nothing unless it is still pending, so a job queued
twice (by the notifier's sweep after a crash) sends once. A failure the server calls temporary retries after
``notifications.retry_base_s``, doubling, or after the server's own ``retry_after`` (Telegram's 429); after
``notifications.max_attempts``, or at once for a permanent refusal, the notification is ``failed`` and a
dead letter that an admin can retry.

    on_start: an arq Worker on its own Redis connection ─► run: poll the queue
    request_stop: stop taking jobs ─► on_stop: let running deliveries finish (10 s), then close
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from arq import Retry
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from addax.actors.outbox import Addressing
from addax.channels.email import Attachment, compose_email, send_email
from addax.channels.errors import DeliveryFailed
from addax.channels.telegram import TelegramChannel
from addax.channels.templates import Rendered, render
from addax.config import Smtp
from addax.derivatives import blurred_copy
from addax.domain.delivery import retry_delay_s, suppressed_reason
from addax.runtime import Actor
from addax.store import notifications
from addax.store.notifications import Delivery
from addax.store.objects import ObjectStore, ObjectStoreError

log = logging.getLogger("addax.courier")

QUEUE = "addax:notify"
JOB = "deliver"


async def enqueue(redis: ArqRedis, notification_ids: Sequence[int], *, queue: str = QUEUE) -> None:
    """Queue deliveries; a notification already queued (or running) is not queued twice."""
    for notification_id in notification_ids:
        await redis.enqueue_job(JOB, notification_id, _job_id=f"{queue}:{notification_id}", _queue_name=queue)


@dataclass(frozen=True, slots=True)
class Delivering:
    """What deliveries need, fixed at start."""

    smtp: Smtp
    telegram: TelegramChannel | None  # the courier's own session (closed when it stops)
    instance_name: str
    public_url: str
    max_attempts: int
    retry_base_s: float
    addressing: Addressing  # checked again at sending: a test copy restored from a backup sends nothing
    timeout_s: float = 90.0  # one delivery, all included (within arq's job timeout)


class Courier:
    """Sends one notification: renders it, attaches its photo, hands it to its channel, records the outcome."""

    def __init__(self, pool: asyncpg.Pool, objects: ObjectStore, delivering: Delivering) -> None:
        self._pool, self._objects, self._delivering = pool, objects, delivering

    async def close(self) -> None:
        if self._delivering.telegram is not None:
            await self._delivering.telegram.close()

    async def deliver(self, notification_id: int) -> str:
        delivery = await notifications.for_delivery(self._pool, notification_id)
        if delivery is None:
            return "not pending"
        addressing = self._delivering.addressing
        reason = suppressed_reason(addressing.enabled, addressing.allowed_recipients, delivery.recipient)
        if reason is not None:
            await notifications.suppress(self._pool, delivery.id, reason)
            return "suppressed"
        try:
            async with asyncio.timeout(self._delivering.timeout_s):
                await self._send(delivery)
        except DeliveryFailed as failure:
            return await self._failed(delivery, failure)
        except TimeoutError:
            return await self._failed(delivery, DeliveryFailed(f"no answer within {self._delivering.timeout_s} s"))
        except Exception as error:  # a bug or a surprise must count as an attempt, not loop forever
            log.exception("notification delivery crashed", extra={"notification": delivery.id})
            return await self._failed(delivery, DeliveryFailed(f"delivery crashed: {error!r}"))
        await notifications.mark_sent(self._pool, delivery.id)
        log.info("notification sent", extra={"notification": delivery.id, "channel": delivery.channel})
        return "sent"

    async def _failed(self, delivery: Delivery, failure: DeliveryFailed) -> str:
        error = str(failure)
        if failure.retry_after_s is not None and not failure.permanent:
            # Rate limited (Telegram's 429): not the message's fault, so not an attempt; spread the retries.
            await notifications.failed_attempt(self._pool, delivery.id, error, counted=False)
            raise Retry(defer=failure.retry_after_s + random.uniform(0, 1))
        if failure.permanent or delivery.attempts + 1 >= self._delivering.max_attempts:
            await notifications.give_up(self._pool, delivery.id, error)
            log.warning(
                "notification failed for good",
                extra={"notification": delivery.id, "channel": delivery.channel, "error": error},
            )
            return "failed"
        attempts = await notifications.failed_attempt(self._pool, delivery.id, error)
        delay = retry_delay_s(attempts, self._delivering.retry_base_s)
        log.info(
            "notification will be retried",
            extra={"notification": delivery.id, "attempts": attempts, "retry_in_s": delay, "error": error},
        )
        raise Retry(defer=delay)

    async def _send(self, delivery: Delivery) -> None:
        rendered = render(
            delivery.kind,
            delivery.payload,
            instance_name=self._delivering.instance_name,
            public_url=self._delivering.public_url,
        )
        photo = await self._photo(delivery.image_id)
        if delivery.channel == "email":
            await self._email(delivery, rendered, photo)
        elif self._delivering.telegram is not None and delivery.recipient.lstrip("-").isdigit():
            await self._delivering.telegram.send_alert(int(delivery.recipient), rendered.telegram, photo)
        else:
            raise DeliveryFailed("Telegram is not set up here, or the chat id is not one", permanent=True)

    async def _email(self, delivery: Delivery, rendered: Rendered, photo: bytes | None) -> None:
        attachments = [Attachment(filename=f"addax-{delivery.image_id}.jpg", data=photo)] if photo else []
        for row in delivery.payload.get("rows", []):
            if row.get("photo_cid") and row.get("best_image_id"):
                thumbnail = await self._photo(int(row["best_image_id"]), variant="thumbnail_key")
                if thumbnail:
                    attachments.append(
                        Attachment(filename=f"{row['photo_cid']}.jpg", data=thumbnail, inline_id=row["photo_cid"])
                    )
        smtp = self._delivering.smtp
        message = compose_email(
            to=delivery.recipient,
            rendered=rendered,
            from_address=smtp.from_address,
            attachments=attachments,
            message_id=f"<notification-{delivery.id}@addax>",
        )
        await send_email(smtp, message)

    async def _photo(self, image_id: int | None, *, variant: str = "annotated_key") -> bytes | None:
        """The photo as users may see it (people and vehicles blurred), when there is one."""
        if image_id is None:
            return None
        keys = await self._pool.fetchrow(
            "SELECT annotated_key, thumbnail_key, people_unblurred FROM images WHERE id = $1", image_id
        )
        key = keys[variant] if keys else None
        if key is None:
            return None
        try:
            copy = await self._objects.read(key)
            # someone a person marked is not blurred in the stored copy: blurred whole, as the dashboard does
            return await asyncio.to_thread(blurred_copy, copy) if keys["people_unblurred"] else copy
        except (ObjectStoreError, OSError) as error:
            log.warning("alert photo unreadable; sending without it", extra={"image_id": image_id, "error": str(error)})
            return None


class CourierActor(Actor[None]):
    def __init__(
        self,
        *,
        redis_url: str,
        courier: Courier,
        queue: str = QUEUE,
        concurrency: int = 10,
        poll_s: float = 0.1,
        drain_s: float = 5.0,
    ) -> None:
        super().__init__(name="courier")
        self._redis_url, self._courier, self._queue = redis_url, courier, queue
        self._concurrency, self._poll_s, self._drain_s = concurrency, poll_s, drain_s
        self._worker: Worker | None = None
        self._polling: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        self._worker = Worker(
            functions=[func(self._deliver, name=JOB, max_tries=1000)],  # type: ignore[arg-type]  # (a bound method)
            queue_name=self._queue,  # attempts are counted in PostgreSQL, hence arq's high max_tries
            redis_settings=RedisSettings.from_dsn(self._redis_url),  # its own connection: arq closes it
            handle_signals=False,
            max_jobs=self._concurrency,
            poll_delay=self._poll_s,
            job_timeout=120,
            keep_result=0,  # the outcome is in PostgreSQL; a kept result would refuse a later re-queue
        )

    async def _deliver(self, _ctx: dict[str, Any], notification_id: int) -> str:
        outcome = await self._courier.deliver(notification_id)
        self.mark_success()
        return outcome

    async def run(self) -> None:
        assert self._worker is not None
        self._polling = asyncio.ensure_future(self._worker.main())
        try:
            await asyncio.wait([self._polling])  # ends when polling stops (request_stop) or fails
        finally:
            self._polling.cancel()
        if not self._polling.cancelled() and (error := self._polling.exception()) is not None:
            raise error

    def request_stop(self) -> bool:
        if self._polling is not None:
            self._polling.cancel()  # stop taking jobs; running deliveries go on
        return True

    async def on_stop(self) -> None:
        """Let running deliveries finish (briefly: the supervisor's deadline is shared), then close for sure."""
        worker, self._worker = self._worker, None
        if self._polling is not None:
            self._polling.cancel()
        try:
            if worker is not None:
                running = [task for task in worker.tasks.values() if not task.done()]
                if running:
                    await asyncio.wait(running, timeout=self._drain_s)
        finally:
            if worker is not None:
                for task in worker.tasks.values():
                    task.cancel()  # arq runs it again once its lease in Redis runs out; it is still pending
                pool = worker.pool
                if pool is not None:
                    with contextlib.suppress(Exception):
                        await pool.close(close_connection_pool=True)
            await self._courier.close()
