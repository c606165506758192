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
        # Slots freed by a get and promised to a woken sender that has not run yet: a newcomer
        # must not take them, or producers that were already waiting would be overtaken.
        self._reserved = 0

    def put_nowait(self, item: T) -> None:
        if self._closed:
            raise MailboxClosed("mailbox is closed")
        if self._senders or len(self._items) + self._reserved >= self._capacity:
            raise MailboxFull(f"mailbox is full ({self._capacity} messages)")
        self._append(item)

    async def put(self, item: T) -> None:
        if self._closed:
            raise MailboxClosed("mailbox is closed")
        if self._senders or len(self._items) + self._reserved >= self._capacity:
            await self._wait_for_room()  # returns holding a reserved slot, first come first served
            self._reserved -= 1
        self._append(item)

    def _append(self, item: T) -> None:
        self._items.append(item)
        _wake_one(self._receivers)

    async def _wait_for_room(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._senders.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter in self._senders:
                self._senders.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._reserved -= 1  # woken with a slot, then cancelled: the slot goes to the next in line
                self._give_room()
            raise

    def _give_room(self) -> None:
        """One slot is free: promise it to the first waiting sender, if any."""
        while self._senders:
            waiter = self._senders.popleft()
            if not waiter.done():
                self._reserved += 1
                waiter.set_result(None)
                return

    def get_nowait(self) -> T:
        """Take one message without waiting; raises ``MailboxClosed`` or ``IndexError`` when none is there."""
        if not self._items:
            if self._closed:
                raise MailboxClosed("mailbox is closed and empty")
            raise IndexError("mailbox is empty")
        item = self._items.popleft()
        self._give_room()
        return item

    async def get(self) -> T:
        while not self._items:
            if self._closed:
                raise MailboxClosed("mailbox is closed and empty")
            await _wait_in(self._receivers)
        return self.get_nowait()

    def close(self) -> None:
        self._closed = True
        while self._senders:
            waiter = self._senders.popleft()
            if not waiter.done():
                waiter.set_exception(MailboxClosed("mailbox is closed"))
        while self._receivers:
            waiter = self._receivers.popleft()
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
