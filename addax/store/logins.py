"""Password logins with lockout: slow answers to wrong passwords, and a limit per account and address.

Used by the API, the dashboard and the FTPS server alike, so every door has the same lock.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from addax.domain.secrets import verify_password
from addax.store import accounts

log = logging.getLogger("addax.logins")


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


class LoginGuard:
    def __init__(self, *, pool: asyncpg.Pool, policy: LoginPolicy) -> None:
        self._pool = pool
        self._policy = policy
        # An argon2 check takes 64 MiB and a third of a CPU second: a burst of logins must not take them all.
        self._checks = asyncio.Semaphore(2)

    async def user(self, email: str, password: str, *, address: str) -> accounts.User:
        """The user whose e-mail and password these are; raises LoginRefused otherwise."""
        await self._refuse_if_locked("user", email, address)
        user = await accounts.find_user(self._pool, email)
        good = await self._verify(user.password_hash if user else None, password)
        if not good or user is None or user.disabled:
            await self._failed("user", email, address)
        assert user is not None
        await self._succeeded("user", email)
        return user

    async def check(
        self,
        kind: str,
        account: str,
        password: str,
        *,
        address: str,
        password_hash: str | None,
    ) -> None:
        """Generic form for other account kinds (e.g. FTPS upload accounts); None: no such account."""
        await self._refuse_if_locked(kind, account, address)
        if not await self._verify(password_hash, password):
            await self._failed(kind, account, address)
        await self._succeeded(kind, account)

    async def _verify(self, password_hash: str | None, password: str) -> bool:
        async with self._checks:
            return await asyncio.to_thread(verify_password, password_hash, password)

    async def _refuse_if_locked(self, kind: str, account: str, address: str) -> None:
        by_account, by_address = await accounts.recent_login_failures(
            self._pool, kind=kind, account=account, address=address, window=timedelta(seconds=self._policy.window_s)
        )
        if max(by_account, by_address) >= self._policy.max_failures:
            log.warning("login refused: locked out", extra={"kind": kind, "account": account, "address": address})
            await asyncio.sleep(self._policy.failure_delay_s)
            raise LoginRefused(
                f"too many failed logins; try again in {self._policy.window_s // 60} minutes",
                locked=True,
                retry_after_s=self._policy.window_s,
            )

    async def _failed(self, kind: str, account: str, address: str) -> None:
        await accounts.record_login_failure(self._pool, kind=kind, account=account, address=address)
        log.warning("login failed", extra={"kind": kind, "account": account, "address": address})
        await asyncio.sleep(self._policy.failure_delay_s)  # slow down guessing without blocking anyone else
        raise LoginRefused("wrong e-mail or password" if kind == "user" else "wrong name or password")

    async def _succeeded(self, kind: str, account: str) -> None:
        await accounts.forget_login_failures(
            self._pool, kind=kind, account=account, older_than=timedelta(seconds=self._policy.window_s)
        )
