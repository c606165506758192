"""The PostgreSQL connection pool: a resource opened once for the service (see Supervisor.use)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from addax.store.migrations import MIGRATIONS_DIR, migrate

log = logging.getLogger("addax.database")


class DatabaseUnavailable(Exception):
    """The database could not be reached in time."""


# Errors that say the database cannot do any work now (unreachable, shutting down, refusing connections,
# out of resources, a lost race), not that the request was wrong: the work is retried when it is back.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    DatabaseUnavailable,
    TimeoutError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,  # class 08
    asyncpg.exceptions.InvalidAuthorizationSpecificationError,  # class 28: its login was refused
    asyncpg.exceptions.InsufficientResourcesError,  # class 53
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, restart, terminated backend
    asyncpg.exceptions.ObjectNotInPrerequisiteStateError,  # e.g. the database does not accept connections
    asyncpg.exceptions.InvalidCatalogNameError,  # the database is gone
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    # A pooled connection whose backend was terminated while idle can fail its next BEGIN this way ("cannot switch
    # to state ...; another operation is in progress"): the pool drops it, and the next try gets a fresh one.
    asyncpg.exceptions.InternalClientError,
)


async def _init_connection(connection: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await connection.set_type_codec(json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, size: int = 10, wait_s: float = 30.0) -> asyncpg.Pool:
    """A pool to ``dsn``, retrying while the server comes up, for at most ``wait_s`` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return await asyncpg.create_pool(
                dsn, min_size=1, max_size=size, init=_init_connection, command_timeout=60, timeout=5
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as error:
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(f"database unreachable ({_redact(dsn)}): {error}") from error
            await asyncio.sleep(0.25)


def _redact(dsn: str) -> str:
    scheme, sep, rest = dsn.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at:
        return dsn
    user = credentials.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"


@contextlib.asynccontextmanager
async def open_database(
    dsn: str, *, pool_size: int = 10, migrations_dir: Path = MIGRATIONS_DIR
) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool for as long as the block runs. A server lost meanwhile is reconnected by the pool."""
    pool = await create_pool(dsn, size=pool_size)
    try:
        async with pool.acquire() as connection:
            await migrate(connection, migrations_dir)
        yield pool
    finally:
        try:
            await asyncio.wait_for(pool.close(), 10)
        except TimeoutError:
            pool.terminate()


async def ping(pool: asyncpg.Pool) -> None:
    """The health probe: raises unless the server answers."""
    await pool.fetchval("SELECT 1")
