"""What the dashboard's pages need from the rest of the process: the same pool, object store, live events and
alerting hooks as the HTTP API, so that both see and change the same things."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from addax.config import OSM_ATTRIBUTION, OSM_TILES
from addax.runtime import ActorHealth
from addax.runtime.broadcast import Broadcast
from addax.store.logins import LoginGuard
from addax.store.objects import ObjectStore


@dataclass(frozen=True, slots=True)
class UiServices:
    logins: LoginGuard
    health: Callable[[], list[ActorHealth]]
    storage_dir: Path
    storage_secret: str
    pool: asyncpg.Pool
    objects: ObjectStore
    events: Broadcast
    instance_name: str = "Addax"
    session_check_s: float = 5.0  # how often an open page re-checks that its user may still be signed in
    map_tiles: str = OSM_TILES  # Leaflet tile URL template
    map_attribution: str = OSM_ATTRIBUTION
    #: the bot's username (getMe), for the Telegram link; None: no bot configured
    telegram_username: Callable[[], Awaitable[str]] | None = None
    #: would a rule alert about a past photo (rule, image id, send a test copy?); None: no notifier here
    try_rule: Callable[..., Awaitable[dict[str, object]]] | None = None
    #: smtp.host and smtp.from_address are set, so alerts can go out by e-mail
    email_ready: bool = False
    #: queue notifications for delivery (a retried dead letter); None: nothing delivers here
    enqueue_deliveries: Callable[[Sequence[int]], Awaitable[None]] | None = None
    #: send a rejected file back through the ingestor (image id, who); False: it is no longer rejected.
    #: None: no receiver in this process
    reprocess_rejection: Callable[[int, str], Awaitable[bool]] | None = None
