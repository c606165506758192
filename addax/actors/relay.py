"""PostgreSQL notifications to this process: wake the stage that has new work, relay live events.

Any process (the service or an ``addax worker``) that moves an image on makes PostgreSQL notify
``addax_work`` with the new stage, and announces live events on ``addax_events``; this actor listens on one
connection of its own and reconnects when it drops. Stages also poll, so a missed notification only delays.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from addax.runtime import Actor
from addax.runtime.signal import Signal
from addax.store import database
from addax.store.work import EVENT_CHANNEL, WORK_CHANNEL

log = logging.getLogger("addax.relay")


class Relay(Actor[None]):
    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        wake: Mapping[str, Signal],
        publish: Callable[[str, dict[str, Any]], None] | None = None,
        check_every_s: float = 2.0,
    ) -> None:
        """``wake``: the signal to notify for each stage name; ``publish``: where live events go (None: nowhere)."""
        super().__init__(name="relay")
        self._pool, self._wake, self._publish, self._check_every_s = pool, wake, publish, check_every_s
        self.listening = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                await self._listen()
            except database.OUTAGE_ERRORS as error:
                self.listening.clear()
                self.record_error(error)
                log.warning("lost the notification connection; reconnecting", extra={"error": str(error)})
            await asyncio.sleep(self._check_every_s)

    async def _listen(self) -> None:
        async with self._pool.acquire() as connection:
            await connection.add_listener(WORK_CHANNEL, self._on_work)
            if self._publish is not None:
                await connection.add_listener(EVENT_CHANNEL, self._on_event)
            self.listening.set()
            for signal in self._wake.values():  # anything that arrived while nobody listened
                signal.notify()
            try:
                while not connection.is_closed():
                    await asyncio.sleep(self._check_every_s)
                    await connection.execute("SELECT 1")
                    self.mark_success()
            finally:
                self.listening.clear()
                if not connection.is_closed():
                    await connection.remove_listener(WORK_CHANNEL, self._on_work)
                    if self._publish is not None:
                        await connection.remove_listener(EVENT_CHANNEL, self._on_event)

    def _on_work(self, _connection: Any, _pid: int, _channel: str, stage: str) -> None:
        signal = self._wake.get(stage)
        if signal is not None:
            signal.notify()

    def _on_event(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            event = json.loads(payload)
            self._publish(str(event["type"]), dict(event["data"]))  # type: ignore[misc]
        except (ValueError, KeyError, TypeError) as error:
            log.warning("ignored a malformed event notification", extra={"error": str(error)})
