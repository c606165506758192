"""What the handlers need, stored on the application under typed keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from aiohttp import web

from addax.domain.intake import Arrival
from addax.runtime import Supervisor
from addax.runtime.broadcast import Broadcast
from addax.store.logins import LoginGuard
from addax.store.objects import FilesystemObjectStore
from addax.store.spool import Spool


@dataclass(frozen=True, slots=True)
class ApiServices:
    pool: asyncpg.Pool
    supervisor: Supervisor
    logins: LoginGuard
    token_ttl: timedelta
    spool: Spool
    objects: FilesystemObjectStore
    deliver: Callable[[Arrival], Awaitable[None]]  # hands a spooled file to the ingestor
    events: Broadcast
    max_upload_bytes: int = 50 * 2**20
    session_check_s: float = 5.0  # how often an open WebSocket re-checks that its token and user are still good
    instance_name: str = "Addax"


SERVICES = web.AppKey("services", ApiServices)
