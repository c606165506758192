"""The Redis connection (an arq pool) for retries and scheduled jobs: a resource (see Supervisor.use)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from redis.exceptions import RedisError


class QueueUnavailable(Exception):
    """Redis could not be reached."""


@contextlib.asynccontextmanager
async def open_queue(url: str) -> AsyncIterator[ArqRedis]:
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = 20
    try:
        redis = await create_pool(settings)
    except (OSError, RedisError) as error:
        raise QueueUnavailable(f"redis unreachable: {error}") from error
    try:
        yield redis
    finally:
        await redis.aclose()


async def ping(redis: ArqRedis) -> None:
    """The health probe: raises unless Redis answers."""
    await redis.ping()
