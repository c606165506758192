"""What the handlers need, stored on the application under typed keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import asyncpg
from aiohttp import web

from addax.runtime import Supervisor
from addax.store.logins import LoginGuard


@dataclass(frozen=True, slots=True)
class ApiServices:
    pool: Callable[[], asyncpg.Pool]
    supervisor: Supervisor
    logins: LoginGuard
    token_ttl: timedelta
    instance_name: str = "Addax"


SERVICES = web.AppKey("services", ApiServices)
