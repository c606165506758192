"""Shared fixtures: real PostgreSQL + PostGIS and Redis, started once per test session.

The servers are Addax's own embedded ones (the code under test), in a temporary directory that
the unprivileged database user can reach when the suite runs as root.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import uvloop

from addax.embedded.postgres import EmbeddedPostgres
from addax.embedded.redis import EmbeddedRedis
from addax.runtime import Supervisor
from addax.store.database import create_pool
from addax.store.migrations import migrate
from tests.mail_server import MailServer, MailServers, Mode
from tests.s3_server import S3Server
from tests.telegram_standin import TelegramStandIn


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, object]:
    """Every async test runs on uvloop, the loop of `addax run`: its transports differ from asyncio's."""
    return {"uvloop": uvloop.new_event_loop}


@dataclass(frozen=True)
class Servers:
    postgres: EmbeddedPostgres
    redis_url: str

    def dsn(self, database: str) -> str:
        return self.postgres.dsn.replace("/addax?", f"/{database}?")


def world_readable_tempdir(prefix: str) -> Path:
    """A temp dir that the embedded database's system user can enter (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def session_dir() -> Iterator[Path]:
    path = world_readable_tempdir("addax-tests-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
async def servers(session_dir: Path) -> AsyncIterator[Servers]:
    async with Supervisor() as supervisor:
        postgres = EmbeddedPostgres(data_dir=session_dir / "servers")
        redis = EmbeddedRedis(data_dir=session_dir / "servers")
        await supervisor.start(postgres)
        await supervisor.start(redis)
        yield Servers(postgres=postgres, redis_url=redis.url)


async def _create_database(servers: Servers, template: str = "template0") -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(servers.postgres.dsn)
    try:
        # generated identifiers, not user input: CREATE DATABASE cannot take bound parameters
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await admin.close()
    return name


@pytest.fixture
async def empty_database(servers: Servers) -> str:
    """The DSN of a brand-new database with no schema."""
    return servers.dsn(await _create_database(servers))


@pytest.fixture(scope="session")
async def migrated_template(servers: Servers) -> str:
    """A migrated database that nobody stays connected to, so it can be copied."""
    name = await _create_database(servers)
    connection = await asyncpg.connect(servers.dsn(name))
    try:
        await migrate(connection)
    finally:
        await connection.close()
    return name


@pytest.fixture(scope="session")
async def migrated_dsn(servers: Servers, migrated_template: str) -> str:
    """A migrated database shared by the session (see `pool`)."""
    return servers.dsn(await _create_database(servers, migrated_template))


@pytest.fixture
async def fresh_dsn(servers: Servers, migrated_template: str) -> str:
    """A migrated database of this test's own (a copy of the template: fast)."""
    return servers.dsn(await _create_database(servers, migrated_template))


@pytest.fixture(scope="session")
async def pool(migrated_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool to a migrated database shared by the session; tests use unique names (see `unique`)."""
    pool = await create_pool(migrated_dsn, size=10)
    yield pool
    await pool.close()


@pytest.fixture
async def own_pool(fresh_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a fresh database of this test's own (for sums over every project, or rows nobody else sees)."""
    pool = await create_pool(fresh_dsn, size=4)
    yield pool
    await pool.close()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def clean_env() -> dict[str, str]:
    """The environment for `addax` subprocesses, without ADDAX_* settings of the developer's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ADDAX_")}


@pytest.fixture(scope="session")
async def mail_servers(session_dir: Path) -> AsyncIterator[MailServers]:
    servers = MailServers(session_dir / "mail")
    yield servers
    await servers.stop()


@pytest.fixture
async def mail_server(mail_servers: MailServers) -> MailServer:
    """A plain SMTP server that requires AUTH (``server.settings()`` logs in); no mails yet."""
    return await mail_servers.get(Mode.PLAIN)


@pytest.fixture
async def tls_mail_server(mail_servers: MailServers) -> MailServer:
    """SMTP with required STARTTLS and AUTH, a self-signed certificate (``server.ca_file``); no mails yet."""
    return await mail_servers.get(Mode.STARTTLS)


@pytest.fixture
async def implicit_tls_mail_server(mail_servers: MailServers) -> MailServer:
    """SMTP over implicit TLS (port-465 style) with AUTH and a self-signed certificate; no mails yet."""
    return await mail_servers.get(Mode.TLS)


@pytest.fixture(scope="session")
async def telegram_api_session() -> AsyncIterator[TelegramStandIn]:
    standin = TelegramStandIn()
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
def telegram_api(telegram_api_session: TelegramStandIn) -> TelegramStandIn:
    """The Telegram Bot API stand-in (``standin.settings()`` reaches it), with no calls or updates yet."""
    telegram_api_session.reset()
    return telegram_api_session


@pytest.fixture(scope="session")
def s3_server(session_dir: Path) -> Iterator[S3Server]:
    """moto's S3 server in its own process; ``s3_server.new_bucket()`` makes an empty bucket per test."""
    server = S3Server.start(session_dir / "s3")
    yield server
    server.stop()
