"""The PostgreSQL connection pool as a supervised actor: connects, migrates, watches the server."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import asyncpg

from addax.runtime import Actor
from addax.store.migrations import MIGRATIONS_DIR, migrate

log = logging.getLogger("addax.database")


class DatabaseUnavailable(Exception):
    """The database could not be reached in time."""


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


class Database(Actor[None]):
    """Owns the pool. Others read ``database.pool`` each time, so a restart hands them the new one."""

    def __init__(
        self, *, dsn: str, pool_size: int = 10, migrations_dir: Path = MIGRATIONS_DIR, check_every_s: float = 5.0
    ) -> None:
        super().__init__(name="database")
        self._dsn = dsn
        self._pool_size = pool_size
        self._migrations_dir = migrations_dir
        self._check_every_s = check_every_s
        self._pool: asyncpg.Pool | None = None
        self.reachable = False

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise DatabaseUnavailable("the database is not connected")
        return self._pool

    def is_healthy(self) -> bool:
        return self.reachable

    async def on_start(self) -> None:
        self._pool = await create_pool(self._dsn, size=self._pool_size)
        async with self._pool.acquire() as connection:
            await migrate(connection, self._migrations_dir)
        self.reachable = True
        self.mark_success()

    async def run(self) -> None:
        # A lost server is not a crash of ours: the pool reconnects; health shows the outage meanwhile.
        while True:
            await asyncio.sleep(self._check_every_s)
            await self.check()

    async def check(self) -> bool:
        try:
            async with asyncio.timeout(5):
                await self.pool.fetchval("SELECT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError, DatabaseUnavailable) as error:
            if self.reachable:
                log.warning("database unreachable", extra={"actor": self.name, "error": str(error)})
            self.reachable = False
            self.record_error(error)
            return False
        if not self.reachable:
            log.info("database reachable again", extra={"actor": self.name})
        self.reachable = True
        self.mark_success()
        return True

    async def on_stop(self) -> None:
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), 10)
            except TimeoutError:
                self._pool.terminate()
            self._pool = None
