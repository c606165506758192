"""What the handlers need, stored on the application under typed keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
from aiohttp import web

from addax.models.registry import Analysis
from addax.runtime import Supervisor
from addax.runtime.broadcast import Broadcast
from addax.store.logins import LoginGuard
from addax.store.objects import ObjectStore
from addax.store.receiving import Receiver

EXPORTS_AT_ONCE = 2


@dataclass(frozen=True, slots=True)
class ApiServices:
    pool: asyncpg.Pool
    supervisor: Supervisor
    logins: LoginGuard
    token_ttl: timedelta
    receiver: Receiver  # the one way in for a file: spool, then the ingestor
    objects: ObjectStore
    events: Broadcast
    session_check_s: float = 5.0  # how often an open WebSocket re-checks that its token and user are still good
    instance_name: str = "Addax"
    #: detection (and classification) of one photo's bytes now, for /api/v1/detect; None: no detector here
    analyse: Callable[[bytes, float], Awaitable[Analysis]] | None = None
    detect_queue_limit: int = 32
    #: the bot's username (getMe), for Telegram deep links; None: no bot configured
    telegram_username: Callable[[], Awaitable[str]] | None = None
    #: hand an update posted to the Telegram webhook to the bot: (secret header, body) -> accepted or not
    telegram_update: Callable[[str, bytes], Awaitable[bool]] | None = None
    #: would a rule alert about a past photo (rule, image id, send a test copy?); None: no notifier here
    try_rule: Callable[..., Awaitable[dict[str, object]]] | None = None
    #: queue notifications for delivery (a retried dead letter); None: nothing delivers here
    enqueue_deliveries: Callable[[Sequence[int]], Awaitable[None]] | None = None
    #: Camtrap DP exports: media inside the zip or as links (storage.export_media), links' base and lifetime
    export_media: str = "zip"
    public_url: str = ""
    signed_url_s: int = 7 * 86400
    #: exports running now: each holds a pool connection and a snapshot for its whole download, so a few at once
    export_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(EXPORTS_AT_ONCE))


SERVICES = web.AppKey("services", ApiServices)
