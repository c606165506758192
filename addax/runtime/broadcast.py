"""In-process publish/subscribe for live events (WebSocket clients, the dashboard).

Publishing never waits: a subscriber that falls ``capacity`` events behind loses the oldest
and is told how many it missed, so one slow browser cannot slow the pipeline down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any] = field(default_factory=dict)


class Subscription:
    def __init__(self, capacity: int) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(capacity)
        self.missed = 0

    def offer(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.missed += 1
        self._queue.put_nowait(event)

    async def next(self) -> Event:
        return await self._queue.get()

    def drain(self) -> list[Event]:
        """Every event waiting now, without waiting for more (for a poller such as a page's timer)."""
        events = []
        while not self._queue.empty():
            events.append(self._queue.get_nowait())
        return events


class Broadcast:
    def __init__(self, *, capacity: int = 256) -> None:
        self._capacity = capacity
        self._subscribers: set[Subscription] = set()

    def publish(self, type: str, data: dict[str, Any]) -> None:
        event = Event(type, data)
        for subscriber in self._subscribers:
            subscriber.offer(event)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[Subscription]:
        subscription = Subscription(self._capacity)
        self._subscribers.add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers.discard(subscription)

    def __len__(self) -> int:
        return len(self._subscribers)
