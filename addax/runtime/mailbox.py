"""A bounded mailbox with the semantics of anyio's memory object streams.

- ``put`` waits while the mailbox is full: producers slow down, nothing is dropped.
- ``put_nowait`` raises :class:`MailboxFull` instead of waiting.
- ``close`` lets the consumer drain what is queued, then ``get`` raises :class:`MailboxClosed`.
- ``stats`` reports depth, capacity and the number of waiting producers and consumers.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class MailboxFull(Exception):
    """Raised by ``put_nowait`` when the mailbox is at capacity."""


class MailboxClosed(Exception):
    """Raised by ``put`` after ``close``, and by ``get`` once a closed mailbox is empty."""


@dataclass(frozen=True, slots=True)
class MailboxStats:
    depth: int
    capacity: int
    waiting_senders: int
    waiting_receivers: int
    closed: bool


class Mailbox(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("a mailbox needs a capacity of at least 1")
        self._capacity = capacity
        self._items: deque[T] = deque()
        self._closed = False
        self._senders: deque[asyncio.Future[None]] = deque()
        self._receivers: deque[asyncio.Future[None]] = deque()

    def put_nowait(self, item: T) -> None:
        if self._closed:
            raise MailboxClosed("mailbox is closed")
        if len(self._items) >= self._capacity:
            raise MailboxFull(f"mailbox is full ({self._capacity} messages)")
        self._items.append(item)
        _wake_one(self._receivers)

    async def put(self, item: T) -> None:
        while not self._closed and len(self._items) >= self._capacity:
            await _wait_in(self._senders)
        self.put_nowait(item)

    def get_nowait(self) -> T:
        """Take one message without waiting; raises ``MailboxClosed`` or ``IndexError`` when none is there."""
        if not self._items:
            if self._closed:
                raise MailboxClosed("mailbox is closed and empty")
            raise IndexError("mailbox is empty")
        item = self._items.popleft()
        _wake_one(self._senders)
        return item

    async def get(self) -> T:
        while not self._items:
            if self._closed:
                raise MailboxClosed("mailbox is closed and empty")
            await _wait_in(self._receivers)
        return self.get_nowait()

    def close(self) -> None:
        self._closed = True
        for waiters in (self._senders, self._receivers):
            while waiters:
                waiter = waiters.popleft()
                if not waiter.done():
                    waiter.set_result(None)

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        return len(self._items)

    def stats(self) -> MailboxStats:
        return MailboxStats(
            depth=len(self._items),
            capacity=self._capacity,
            waiting_senders=len(self._senders),
            waiting_receivers=len(self._receivers),
            closed=self._closed,
        )


async def _wait_in(waiters: deque[asyncio.Future[None]]) -> None:
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    waiters.append(waiter)
    try:
        await waiter
    except asyncio.CancelledError:
        if waiter in waiters:
            waiters.remove(waiter)
        elif waiter.done() and not waiter.cancelled():
            _wake_one(waiters)  # we were woken and then cancelled: pass the turn on
        raise


def _wake_one(waiters: deque[asyncio.Future[None]]) -> None:
    while waiters:
        waiter = waiters.popleft()
        if not waiter.done():
            waiter.set_result(None)
            return
