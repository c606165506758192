"""A resource under a supervisor: opened once, probed for health, closed in its turn (see supervisor.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Generic, TypeVar

from addax.runtime.actor import ActorHealth

log = logging.getLogger("addax.supervisor")

R = TypeVar("R")

PROBE_TIMEOUT_S = 5.0


class Resource(Generic[R]):
    def __init__(
        self, name: str, manager: AbstractAsyncContextManager[R], probe: Callable[[R], Awaitable[object]]
    ) -> None:
        self.name = name
        self._manager, self._probe = manager, probe
        self._value: R | None = None
        self.is_open = False
        self.reachable = False
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_success_at: float | None = None

    async def open(self) -> R:
        self._value = await self._manager.__aenter__()
        self.is_open = self.reachable = True
        self.last_success_at = time.time()
        return self._value

    async def watch(self, every_s: float) -> None:
        """Probe forever; health follows the last answer (a lost server is an outage, not a crash)."""
        while True:
            await asyncio.sleep(every_s)
            await self.check()

    async def check(self) -> bool:
        assert self._value is not None
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                await self._probe(self._value)
        except Exception as error:
            if self.reachable:
                log.warning("resource unreachable", extra={"resource": self.name, "error": repr(error)})
            self.reachable = False
            self.last_error, self.last_error_at = f"{type(error).__name__}: {error}", time.time()
            return False
        if not self.reachable:
            log.info("resource reachable again", extra={"resource": self.name})
        self.reachable = True
        self.last_success_at = time.time()
        return True

    async def close(self, watcher: asyncio.Task[None], *, timeout: float) -> None:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        if not self.is_open:
            return
        self.is_open = False
        try:
            async with asyncio.timeout(timeout):
                await self._manager.__aexit__(None, None, None)
        except Exception:
            log.exception("resource did not close cleanly", extra={"resource": self.name})

    def health(self) -> ActorHealth:
        return ActorHealth(
            name=self.name,
            alive=self.is_open,
            healthy=self.is_open and self.reachable,
            restarts=0,
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            last_success_at=self.last_success_at,
            mailbox_depth=0,
            mailbox_capacity=0,
        )
