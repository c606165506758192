"""Password logins with lockout, shared by the API, the dashboard and the FTPS server (one lock, every door).

Each attempt, in this order::

    address over its budget of checks at once? ─► wait for its turn (one address cannot take every argon2 slot)
    already locked (account or address)? ─────► refused at once, without a check (slowly)
    count the attempt (a failure row, written first)
    locked now, counting this one? ───────────► refused, without a check
    check the password (argon2, off the loop)
      right ─► its row removed, the (account, address) pair remembered; older failures elsewhere stay
      wrong ─► the row stays; answered after ``failure_delay_s``

Counting before checking means parallel or pipelined guesses cannot all be checked before the first
is counted: at most ``max_failures`` attempts per window ever reach a password check.

An address from which the account logged in before is *known*: there only the failures of that
account from that address lock it out; guessing from elsewhere (or for other accounts behind the same
carrier-grade NAT) slows the owner down but cannot lock them out (``admin@localhost`` included).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from addax.domain.secrets import verify_password
from addax.store import accounts

log = logging.getLogger("addax.logins")

KNOWN_FOR = timedelta(days=90)  # how long a successful login keeps its address known


class LoginRefused(Exception):
    def __init__(self, message: str, *, locked: bool = False, retry_after_s: int = 0) -> None:
        super().__init__(message)
        self.locked = locked
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_failures: int = 10
    window_s: int = 300
    failure_delay_s: float = 1.0
    checks_per_address: int = 2  # password checks running at once for one address
    known_slowdown_max_s: float = 30.0  # the longest a known address waits per attempt on a locked account


class LoginGuard:
    def __init__(self, *, pool: asyncpg.Pool, policy: LoginPolicy) -> None:
        self._pool = pool
        self._policy = policy
        # An argon2 check takes 64 MiB and a third of a CPU second: a burst of logins must not take them all.
        self._checks = asyncio.Semaphore(2)
        self._per_address = _PerKeyLimit(policy.checks_per_address)

    async def user(self, email: str, password: str, *, address: str) -> accounts.User:
        """The user whose e-mail and password these are; raises LoginRefused otherwise."""
        user = await accounts.find_user(self._pool, email)
        stored = user.password_hash if user is not None and not user.disabled else None
        await self._attempt("user", email, password, address=address, password_hash=stored)
        assert user is not None
        return user

    async def check(self, kind: str, account: str, password: str, *, address: str, password_hash: str | None) -> None:
        """Generic form for other account kinds (e.g. FTPS upload accounts); None: no such account."""
        await self._attempt(kind, account, password, address=address, password_hash=password_hash)

    async def _attempt(
        self, kind: str, account: str, password: str, *, address: str, password_hash: str | None
    ) -> None:
        async with self._per_address.hold(address):
            known = await _is_known(self._pool, kind, account, address)
            await self._refuse_if_locked(kind, account, address, known=known)  # locked already: nothing written
            attempt_id = await _count_attempt(self._pool, kind, account, address)
            await self._refuse_if_locked(kind, account, address, known=known, counted=True)
            if not await self._verify(password_hash, password):
                log.warning("login failed", extra={"kind": kind, "account": account, "address": address})
                await asyncio.sleep(self._policy.failure_delay_s)  # slow down guessing without blocking anyone else
                raise LoginRefused("wrong e-mail or password" if kind == "user" else "wrong name or password")
            await _succeeded(self._pool, attempt_id, kind, account, address, self._window)

    @property
    def _window(self) -> timedelta:
        return timedelta(seconds=self._policy.window_s)

    async def _refuse_if_locked(
        self, kind: str, account: str, address: str, *, known: bool, counted: bool = False
    ) -> None:
        """Refuse a locked account or address. From a known address only its own failures for the account
        lock it out; failures elsewhere (or of other accounts behind the same address) slow it down."""
        failures = await _failures(self._pool, kind, account, address, self._window)
        limit = self._policy.max_failures + (1 if counted else 0)  # once counted, this attempt is one of them
        locking = failures.by_pair if known else max(failures.by_account, failures.by_address)
        if locking >= limit:
            log.warning("login refused: locked out", extra={"kind": kind, "account": account, "address": address})
            await asyncio.sleep(self._policy.failure_delay_s)
            raise LoginRefused(
                f"too many failed logins; try again in {self._policy.window_s // 60} minutes",
                locked=True,
                retry_after_s=self._policy.window_s,
            )
        excess = max(failures.by_account, failures.by_address) - limit + 1
        if known and counted and excess > 0:  # slowed once per attempt, after it was counted
            await asyncio.sleep(min(self._policy.known_slowdown_max_s, self._policy.failure_delay_s * excess))

    async def _verify(self, password_hash: str | None, password: str) -> bool:
        async with self._checks:
            return await asyncio.to_thread(verify_password, password_hash, password)


class _PerKeyLimit:
    """At most ``limit`` holders at once per key; a key's semaphore exists only while someone uses it."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._users: Counter[str] = Counter()

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        semaphore = self._semaphores.setdefault(key, asyncio.Semaphore(self._limit))
        self._users[key] += 1
        try:
            async with semaphore:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._semaphores[key]


@dataclass(frozen=True, slots=True)
class _Failures:
    by_account: int  # for this account, from anywhere
    by_address: int  # from this address, for any account
    by_pair: int  # for this account from this address


async def _failures(pool: asyncpg.Pool, kind: str, account: str, address: str, window: timedelta) -> _Failures:
    """Failures within ``window``."""
    row = await pool.fetchrow(
        """SELECT count(*) FILTER (WHERE lower(account) = lower($2)) AS by_account,
                  count(*) FILTER (WHERE address = $3) AS by_address,
                  count(*) FILTER (WHERE lower(account) = lower($2) AND address = $3) AS by_pair
           FROM auth_failures WHERE kind = $1 AND at > now() - $4::interval""",
        kind,
        account,
        address,
        window,
    )
    assert row is not None
    return _Failures(int(row["by_account"]), int(row["by_address"]), int(row["by_pair"]))


async def _count_attempt(pool: asyncpg.Pool, kind: str, account: str, address: str) -> int:
    """Count an attempt as a failure before it is checked; committed at once, so that parallel ones see it."""
    return int(
        await pool.fetchval(
            "INSERT INTO auth_failures (kind, account, address) VALUES ($1, $2, $3) RETURNING id",
            kind,
            account,
            address,
        )
    )


async def _is_known(pool: asyncpg.Pool, kind: str, account: str, address: str) -> bool:
    return bool(
        await pool.fetchval(
            """SELECT EXISTS (SELECT 1 FROM known_logins WHERE kind = $1 AND lower(account) = lower($2)
                              AND address = $3 AND last_success_at > now() - $4::interval)""",
            kind,
            account,
            address,
            KNOWN_FOR,
        )
    )


async def _succeeded(
    pool: asyncpg.Pool, attempt_id: int, kind: str, account: str, address: str, window: timedelta
) -> None:
    """Forget this address's failures for the account (the owner mistyped); failures from elsewhere stay."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            """DELETE FROM auth_failures WHERE id = $1
                  OR (kind = $2 AND lower(account) = lower($3) AND address = $4)
                  OR at < now() - $5::interval""",
            attempt_id,
            kind,
            account,
            address,
            window,
        )
        await connection.execute(
            """INSERT INTO known_logins (kind, account, address) VALUES ($1, $2, $3)
               ON CONFLICT (kind, lower(account), address) DO UPDATE SET last_success_at = now()""",
            kind,
            account,
            address,
        )
