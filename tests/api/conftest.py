"""The API in-process (aiohttp test client) over a real database, spool, object store and ingestor."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from addax.actors.ingestor import Ingestor
from addax.api import ApiServices, build_api
from addax.domain.secrets import hash_password, new_token, token_digest
from addax.runtime import Supervisor
from addax.runtime.broadcast import Broadcast
from addax.store import accounts
from addax.store.database import open_database, ping
from addax.store.logins import LoginGuard, LoginPolicy
from addax.store.object_fs import FilesystemObjectStore
from addax.store.receiving import Receiver
from addax.store.spool import Spool
from tests.conftest import world_readable_tempdir

FAST_POLICY = LoginPolicy(max_failures=10, window_s=300, failure_delay_s=0.05)


@dataclass
class Backend:
    supervisor: Supervisor
    pool: asyncpg.Pool
    ingestor: Ingestor
    spool: Spool
    objects: FilesystemObjectStore
    events: Broadcast


@pytest.fixture
async def backend(fresh_dsn: str) -> AsyncIterator[Backend]:
    data_dir = world_readable_tempdir("addax-api-")
    async with Supervisor(stop_timeout=5) as supervisor:
        pool = await supervisor.use("database", open_database(fresh_dsn, pool_size=4), probe=ping, every_s=0.2)
        spool, objects, events = Spool(data_dir / "spool"), FilesystemObjectStore(data_dir / "objects"), Broadcast()
        ingestor = Ingestor(pool=pool, spool=spool, objects=objects, publish=events.publish)
        await supervisor.start(ingestor)
        yield Backend(supervisor, pool, ingestor, spool, objects, events)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def supervisor(backend: Backend) -> Supervisor:
    return backend.supervisor


@pytest.fixture
def make_api(backend: Backend, aiohttp_client: Callable) -> Callable:
    async def make(
        policy: LoginPolicy = FAST_POLICY,
        *,
        max_upload_bytes: int = 2 * 2**20,
        min_free_bytes: int = 0,
        **settings: Any,
    ) -> TestClient:
        """``settings``: ApiServices fields to change (session_check_s, objects ...)."""
        logins = LoginGuard(pool=backend.pool, policy=policy)
        services = ApiServices(
            pool=backend.pool,
            supervisor=backend.supervisor,
            logins=logins,
            token_ttl=timedelta(hours=1),
            receiver=Receiver(
                spool=backend.spool,
                deliver=backend.ingestor.send,
                max_bytes=max_upload_bytes,
                min_free_bytes=min_free_bytes,
            ),
            objects=settings.pop("objects", backend.objects),
            events=backend.events,
            **settings,
        )
        return await aiohttp_client(build_api(services))

    return make


@pytest.fixture
async def user(backend: Backend, unique: str) -> tuple[str, str]:
    email, password = f"user-{unique}@example.org", f"pw-{unique}"
    await accounts.add_user(
        backend.pool, email, hash_password(password), role=accounts.Role.SERVER_ADMIN, project=None, by="test"
    )
    return email, password


@pytest.fixture
async def bearer(backend: Backend, user: tuple[str, str]) -> dict[str, str]:
    """Authorization headers of a server admin."""
    found = await accounts.find_user(backend.pool, user[0])
    assert found is not None
    token = new_token()
    await accounts.issue_api_token(backend.pool, found.id, token_digest(token), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def device(backend: Backend, unique: str) -> tuple[int, str]:
    """(project id, device token) of a project with an upload token."""
    project_id = await accounts.add_project(backend.pool, f"api-{unique}", by="test")
    token = new_token()
    await accounts.add_device_token(backend.pool, "gateway", token_digest(token), project=f"api-{unique}", by="t")
    return project_id, token
