"""The Redis connection (an arq pool) as a supervised actor, for retries and scheduled jobs."""

from __future__ import annotations

import asyncio
import logging

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import RedisError

from addax.runtime import Actor

log = logging.getLogger("addax.queue")


class QueueUnavailable(Exception):
    """Redis could not be reached."""


class Queue(Actor[None]):
    def __init__(self, *, url: str, check_every_s: float = 5.0) -> None:
        super().__init__(name="queue")
        self._settings = RedisSettings.from_dsn(url)
        self._settings.conn_retries = 20
        self._check_every_s = check_every_s
        self._redis: ArqRedis | None = None
        self.reachable = False

    @property
    def redis(self) -> ArqRedis:
        if self._redis is None:
            raise QueueUnavailable("redis is not connected")
        return self._redis

    def is_healthy(self) -> bool:
        return self.reachable

    async def on_start(self) -> None:
        try:
            self._redis = await create_pool(self._settings)
        except (OSError, RedisError) as error:
            raise QueueUnavailable(f"redis unreachable: {error}") from error
        self.reachable = True
        self.mark_success()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._check_every_s)
            await self.check()

    async def check(self) -> bool:
        try:
            async with asyncio.timeout(5):
                await self.redis.ping()
        except (OSError, RedisError, TimeoutError, QueueUnavailable) as error:
            if self.reachable:
                log.warning("redis unreachable", extra={"actor": self.name, "error": str(error)})
            self.reachable = False
            self.record_error(error)
            return False
        self.reachable = True
        self.mark_success()
        return True

    async def on_stop(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None
