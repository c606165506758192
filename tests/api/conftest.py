from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient

from addax.api import ApiServices, build_api
from addax.domain.secrets import hash_password
from addax.runtime import Supervisor
from addax.store import accounts
from addax.store.database import Database
from addax.store.logins import LoginGuard, LoginPolicy

FAST_POLICY = LoginPolicy(max_failures=10, window_s=300, failure_delay_s=0.05)


@pytest.fixture
async def supervisor(fresh_dsn: str) -> AsyncIterator[Supervisor]:
    async with Supervisor(stop_timeout=5) as supervisor:
        await supervisor.start(Database(dsn=fresh_dsn, pool_size=4, check_every_s=0.2))
        yield supervisor


@pytest.fixture
def make_api(supervisor: Supervisor, aiohttp_client: Callable) -> Callable:
    async def make(policy: LoginPolicy = FAST_POLICY) -> TestClient:
        database = supervisor.actors[0]
        assert isinstance(database, Database)
        logins = LoginGuard(pool=lambda: database.pool, policy=policy)
        services = ApiServices(pool=lambda: database.pool, supervisor=supervisor, logins=logins,
                               token_ttl=timedelta(hours=1))
        return await aiohttp_client(build_api(services))

    return make


@pytest.fixture
async def user(supervisor: Supervisor, unique: str) -> tuple[str, str]:
    email, password = f"user-{unique}@example.org", f"pw-{unique}"
    database = supervisor.actors[0]
    assert isinstance(database, Database)
    await accounts.add_user(
        database.pool, email, hash_password(password), role=accounts.Role.SERVER_ADMIN, project=None, by="test"
    )
    return email, password
