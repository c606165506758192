"""Alerts wired from a config: the notifier, the courier (arq deliveries), the Telegram bot and the scheduler.

    finisher ─(image done, alert_pending)─► notifier ─► notifications (PostgreSQL) ─► arq queue ─► courier
    scheduler ─(rules' timetable, admin checks)─► notifications ─► arq queue ─► courier ─► SMTP, Telegram
    telegram bot: long polling for /start <token> and /stop

``addax run`` starts all of them; ``addax worker --roles notify`` the notifier and a courier only (one
process polls Telegram, and the admin checks watch the service's own actors).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import asyncpg
from arq.connections import ArqRedis

from addax.actors.courier import QUEUE, Courier, CourierActor, Delivering, enqueue
from addax.actors.notifier import Notifier
from addax.actors.outbox import Addressing
from addax.actors.scheduler import NightlyBackup, Scheduler
from addax.actors.storage_upkeep import storage_upkeep
from addax.actors.telegram_bot import TelegramBot, Webhook
from addax.channels.telegram import TelegramChannel, parse_update
from addax.config import Config
from addax.runtime import Supervisor
from addax.runtime.clock import Clock, SystemClock
from addax.runtime.signal import Signal
from addax.store.objects import ObjectStore
from addax.tls import persistent_secret

log = logging.getLogger("addax.alerts")


@dataclass(frozen=True, slots=True)
class Alerting:
    enqueue: Callable[[Sequence[int]], Awaitable[None]]
    telegram_username: Callable[[], Awaitable[str]] | None
    telegram_update: Callable[[str, bytes], Awaitable[bool]] | None
    try_rule: Callable[..., Awaitable[dict[str, object]]]
    scheduler: Scheduler | None


def addressing(config: Config) -> Addressing:
    return Addressing(
        enabled=config.notifications.enabled,
        allowed_recipients=tuple(config.notifications.allowed_recipients),
        email_ready=bool(config.smtp.host and config.smtp.from_address),
        telegram_ready=bool(config.telegram.bot_token),
    )


async def start_alerting(
    supervisor: Supervisor,
    config: Config,
    *,
    pool: asyncpg.Pool,
    redis: ArqRedis,
    redis_url: str,
    objects: ObjectStore,
    done: Signal,
    backup: NightlyBackup | None = None,
    service: bool = True,
    clock: Clock | None = None,
    queue: str = QUEUE,
) -> Alerting:
    """``service``: this is ``addax run`` (the Telegram bot and the scheduler run here, once); ``queue``: the
    arq queue of deliveries (tests sharing one Redis use one each)."""
    clock = clock or SystemClock()
    rules = addressing(config)
    channel = TelegramChannel(config.telegram) if service and config.telegram.bot_token else None  # the bot's
    deliveries = partial(enqueue, redis, queue=queue)
    courier = Courier(
        pool,
        objects,
        Delivering(
            smtp=config.smtp,
            telegram=TelegramChannel(config.telegram) if config.telegram.bot_token else None,
            instance_name=config.general.instance_name,
            public_url=config.http.public_url,
            max_attempts=config.notifications.max_attempts,
            retry_base_s=config.notifications.retry_base_s,
            addressing=rules,
        ),
    )
    await supervisor.start(CourierActor(redis_url=redis_url, courier=courier, queue=queue))
    notifier = Notifier(pool=pool, wake=done, enqueue=deliveries, addressing=rules, clock=clock)
    await supervisor.start(notifier)
    scheduler, bot = None, None
    if service:
        if channel is not None:
            bot = TelegramBot(
                pool=pool, channel=channel, poll_timeout_s=config.telegram.poll_timeout_s, webhook=_webhook(config)
            )
            await supervisor.start(bot)
        scheduler = Scheduler(
            pool=pool,
            clock=clock,
            enqueue=deliveries,
            addressing=rules,
            actor_health=supervisor.health,
            disk_path=_watched_disk(config),
            upkeep=storage_upkeep(config, pool=pool, objects=objects),
            backup=backup,
        )
        await supervisor.start(scheduler)
    if not (rules.email_ready or rules.telegram_ready):
        log.warning("no alert channel is set up: set smtp.host and smtp.from_address, or telegram.bot_token")
    return Alerting(
        enqueue=deliveries,
        telegram_username=channel.username if channel is not None else None,
        telegram_update=partial(webhook_update, bot) if bot is not None and bot.webhook is not None else None,
        try_rule=notifier.try_rule,
        scheduler=scheduler,
    )


def _webhook(config: Config) -> Webhook | None:
    if not config.telegram.webhook:
        return None
    secret = persistent_secret(config.data_path / "telegram-webhook-secret")
    return Webhook(url=config.http.public_url.rstrip("/") + "/api/telegram/webhook", secret=secret)


async def webhook_update(bot: TelegramBot, secret: str, body: bytes) -> bool:
    """An update posted to the webhook: handled when its secret header is the one Telegram was given."""
    assert bot.webhook is not None
    if not hmac.compare_digest(secret.encode(), bot.webhook.secret.encode()):
        return False
    try:
        data = json.loads(body)
    except ValueError:
        raise ValueError("the body is not JSON") from None
    await bot.answer(parse_update(data))
    return True


def _watched_disk(config: Config) -> Path:
    return Path(config.notifications.disk_path) if config.notifications.disk_path else config.data_path
