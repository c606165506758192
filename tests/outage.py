"""A database that goes away: every connection of one test database cut, new ones refused, until the block ends."""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import AsyncIterator

import asyncpg

from tests.conftest import Servers


@contextlib.asynccontextmanager
async def database_down(servers: Servers, dsn: str) -> AsyncIterator[None]:
    database = urllib.parse.urlparse(dsn).path.lstrip("/")
    admin = await asyncpg.connect(servers.postgres.dsn)
    try:
        # identifiers of the test's own making, not input: ALTER DATABASE takes no parameters
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", database)
        yield
    finally:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        await admin.close()
