"""A wake-up call: ``notify`` from anywhere on the loop, ``wait`` with a timeout, no value carried."""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait(self, timeout_s: float) -> bool:
        """True when notified (since the last wait), False when the timeout passed first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)
        notified = self._event.is_set()
        self._event.clear()
        return notified
