"""The shared lockout: attempts counted before they are checked, known addresses slowed not refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from addax.domain.secrets import hash_password
from addax.store import accounts
from addax.store.database import create_pool
from addax.store.logins import LoginGuard, LoginPolicy, LoginRefused

POLICY = LoginPolicy(max_failures=10, window_s=300, failure_delay_s=0.05)
PASSWORD = "the right password"


@pytest.fixture
async def pool(fresh_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A database of the test's own: lockouts are counted per address over the whole table."""
    pool = await create_pool(fresh_dsn, size=30)
    yield pool
    await pool.close()


@pytest.fixture
def guard(pool: asyncpg.Pool) -> LoginGuard:
    return LoginGuard(pool=pool, policy=POLICY)


@pytest.fixture
async def email(pool: asyncpg.Pool) -> str:
    await accounts.add_user(
        pool, "eva@example.org", hash_password(PASSWORD), role=accounts.Role.SERVER_ADMIN, project=None, by="t"
    )
    return "eva@example.org"


async def attempt(guard: LoginGuard, email: str, password: str, address: str) -> str:
    try:
        await guard.user(email, password, address=address)
    except LoginRefused as refused:
        return "locked" if refused.locked else "wrong"
    return "ok"


async def test_twenty_parallel_guesses_get_at_most_ten_checks_and_the_right_one_then_waits(
    guard: LoginGuard, email: str
) -> None:
    results = await asyncio.gather(*(attempt(guard, email, f"guess{n}", "203.0.113.9") for n in range(20)))
    assert results.count("wrong") == 10 and results.count("locked") == 10
    assert await attempt(guard, email, PASSWORD, "203.0.113.9") == "locked"
    assert await attempt(guard, email, PASSWORD, "198.51.100.1") == "locked", "the account is locked everywhere new"


async def test_a_success_forgets_only_its_own_addresses_failures(
    guard: LoginGuard, email: str, pool: asyncpg.Pool
) -> None:
    for n in range(6):
        assert await attempt(guard, email, f"guess{n}", "203.0.113.9") == "wrong"  # the attacker
    for n in range(3):
        assert await attempt(guard, email, f"typo{n}", "192.0.2.7") == "wrong"  # the owner mistypes
    assert await attempt(guard, email, PASSWORD, "192.0.2.7") == "ok"
    left = await pool.fetch("SELECT address FROM auth_failures WHERE account = $1", email)
    assert sorted(row["address"] for row in left) == ["203.0.113.9"] * 6, "the attacker's failures still count"


async def test_guessing_from_elsewhere_slows_the_owner_down_but_never_locks_them_out(
    guard: LoginGuard, email: str
) -> None:
    assert await attempt(guard, email, PASSWORD, "192.0.2.7") == "ok"  # the owner's usual address
    for n in range(15):
        await attempt(guard, email, f"guess{n}", "203.0.113.9")
    assert await attempt(guard, email, PASSWORD, "203.0.113.9") == "locked"
    assert await attempt(guard, email, PASSWORD, "198.51.100.1") == "locked"
    started = time.monotonic()
    assert await attempt(guard, email, PASSWORD, "192.0.2.7") == "ok", "known address: slowed, not refused"
    assert time.monotonic() - started >= POLICY.failure_delay_s


async def test_a_locked_address_is_refused_for_every_account_it_never_used(guard: LoginGuard, email: str) -> None:
    for n in range(10):
        assert await attempt(guard, f"nobody{n}@example.org", "x", "203.0.113.9") == "wrong"
    assert await attempt(guard, email, PASSWORD, "203.0.113.9") == "locked"
    assert await attempt(guard, email, PASSWORD, "192.0.2.7") == "ok"


class CountingGuard(LoginGuard):
    """Counts the password checks running at once (the real argon2 check still runs)."""

    running = most = 0

    async def _verify(self, password_hash: str | None, password: str) -> bool:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            return await super()._verify(password_hash, password)
        finally:
            self.running -= 1


async def test_one_address_runs_at_most_two_checks_at_once(pool: asyncpg.Pool, email: str) -> None:
    guard = CountingGuard(pool=pool, policy=POLICY)
    await asyncio.gather(*(attempt(guard, email, f"guess{n}", "203.0.113.9") for n in range(8)))
    assert guard.most == 2


async def test_a_known_address_is_locked_by_its_own_guesses_not_by_its_neighbours(
    guard: LoginGuard, email: str
) -> None:
    assert await attempt(guard, email, PASSWORD, "192.0.2.7") == "ok"
    for n in range(12):  # a misconfigured camera behind the same carrier-grade NAT
        await attempt(guard, f"cam{n}@example.org", "x", "192.0.2.7")
    assert await attempt(guard, email, PASSWORD, "192.0.2.7") == "ok"
    for n in range(10):
        assert await attempt(guard, email, f"typo{n}", "192.0.2.7") == "wrong"
    assert await attempt(guard, email, PASSWORD, "192.0.2.7") == "locked"
