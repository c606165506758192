"""Mailbox: bounded, ``put`` waits when full, ``put_nowait`` raises, ``close`` drains, ``stats`` tells.

Waiting is checked by letting the loop run (``settle``) and then looking at ``stats()``; nothing here
sleeps for a fixed time to wait for something to happen.
"""

from __future__ import annotations

import asyncio
import random
from typing import TypeVar

import pytest

from addax.runtime.mailbox import Mailbox, MailboxClosed, MailboxFull, MailboxStats

DEADLINE_S = 2.0
R = TypeVar("R")


async def settle(rounds: int = 5) -> None:
    """Give every ready task a few turns of the loop (a yield, not a wait for an event)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def finish(task: asyncio.Task[R]) -> R:
    async with asyncio.timeout(DEADLINE_S):
        return await task


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Mailbox[int](0)


async def test_put_waits_while_full_until_a_consumer_takes() -> None:
    mailbox = Mailbox[str](1)
    await mailbox.put("first")
    producer = asyncio.create_task(mailbox.put("second"))
    await settle()

    assert not producer.done(), "put must wait while the mailbox is full"
    assert mailbox.stats().waiting_senders == 1
    assert len(mailbox) == 1

    assert await mailbox.get() == "first"
    await finish(producer)
    assert mailbox.stats().waiting_senders == 0
    assert mailbox.get_nowait() == "second"


async def test_put_nowait_raises_when_full_and_keeps_what_is_queued() -> None:
    mailbox = Mailbox[int](2)
    mailbox.put_nowait(1)
    mailbox.put_nowait(2)

    with pytest.raises(MailboxFull, match="2 messages"):
        mailbox.put_nowait(3)

    assert [mailbox.get_nowait(), mailbox.get_nowait()] == [1, 2]
    mailbox.put_nowait(3)  # room again
    assert mailbox.get_nowait() == 3


async def test_get_nowait_on_an_empty_open_mailbox_raises_index_error() -> None:
    mailbox = Mailbox[int](1)
    with pytest.raises(IndexError):
        mailbox.get_nowait()


async def test_close_lets_the_consumer_drain_then_get_raises() -> None:
    mailbox = Mailbox[int](3)
    for item in (1, 2, 3):
        await mailbox.put(item)
    mailbox.close()

    assert mailbox.closed
    assert [await mailbox.get() for _ in range(3)] == [1, 2, 3]
    with pytest.raises(MailboxClosed):
        await mailbox.get()
    with pytest.raises(MailboxClosed):
        mailbox.get_nowait()


async def test_put_after_close_raises() -> None:
    mailbox = Mailbox[int](2)
    mailbox.close()
    with pytest.raises(MailboxClosed):
        await mailbox.put(1)
    with pytest.raises(MailboxClosed):
        mailbox.put_nowait(1)
    assert len(mailbox) == 0


async def test_close_wakes_a_waiting_consumer_with_mailbox_closed() -> None:
    mailbox = Mailbox[int](1)
    consumer = asyncio.create_task(mailbox.get())
    await settle()
    assert mailbox.stats().waiting_receivers == 1

    mailbox.close()
    with pytest.raises(MailboxClosed):
        await finish(consumer)
    assert mailbox.stats().waiting_receivers == 0


async def test_close_wakes_a_waiting_producer_and_its_item_is_not_added() -> None:
    mailbox = Mailbox[str](1)
    mailbox.put_nowait("queued")
    producer = asyncio.create_task(mailbox.put("late"))
    await settle()
    assert mailbox.stats().waiting_senders == 1

    mailbox.close()
    with pytest.raises(MailboxClosed):
        await finish(producer)
    assert mailbox.get_nowait() == "queued"
    with pytest.raises(MailboxClosed):
        mailbox.get_nowait()


async def test_stats_report_depth_capacity_and_waiters() -> None:
    mailbox = Mailbox[int](2)
    assert mailbox.stats() == MailboxStats(depth=0, capacity=2, waiting_senders=0, waiting_receivers=0, closed=False)

    consumers = [asyncio.create_task(mailbox.get()) for _ in range(2)]
    await settle()
    assert mailbox.stats().waiting_receivers == 2

    mailbox.put_nowait(10)
    mailbox.put_nowait(20)
    assert sorted([await finish(c) for c in consumers]) == [10, 20]
    assert mailbox.stats().waiting_receivers == 0

    mailbox.put_nowait(1)
    mailbox.put_nowait(2)
    producers = [asyncio.create_task(mailbox.put(n)) for n in (3, 4, 5)]
    await settle()
    assert mailbox.stats() == MailboxStats(depth=2, capacity=2, waiting_senders=3, waiting_receivers=0, closed=False)

    mailbox.close()
    for producer in producers:
        with pytest.raises(MailboxClosed):
            await finish(producer)
    assert mailbox.stats() == MailboxStats(depth=2, capacity=2, waiting_senders=0, waiting_receivers=0, closed=True)


async def test_cancelled_waiting_put_adds_nothing_and_leaves_the_queue() -> None:
    mailbox = Mailbox[str](1)
    mailbox.put_nowait("a")
    producer = asyncio.create_task(mailbox.put("never"))
    await settle()

    producer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await finish(producer)

    assert mailbox.stats().waiting_senders == 0
    assert mailbox.get_nowait() == "a"
    with pytest.raises(IndexError):
        mailbox.get_nowait()
    await mailbox.put("b")
    assert mailbox.get_nowait() == "b"


async def test_cancelled_waiting_get_takes_nothing() -> None:
    mailbox = Mailbox[str](1)
    first = asyncio.create_task(mailbox.get())
    await settle()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await finish(first)
    assert mailbox.stats().waiting_receivers == 0

    await mailbox.put("x")
    assert await finish(asyncio.create_task(mailbox.get())) == "x"
    assert len(mailbox) == 0


async def test_consumer_cancelled_after_being_woken_passes_the_item_on() -> None:
    mailbox = Mailbox[str](1)
    first = asyncio.create_task(mailbox.get())
    second = asyncio.create_task(mailbox.get())
    await settle()
    assert mailbox.stats().waiting_receivers == 2

    mailbox.put_nowait("only")  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it gets to run

    assert await finish(second) == "only"
    assert first.cancelled()
    assert len(mailbox) == 0
    assert mailbox.stats().waiting_receivers == 0


async def test_producer_cancelled_after_being_woken_passes_the_room_on() -> None:
    mailbox = Mailbox[str](1)
    mailbox.put_nowait("a")
    first = asyncio.create_task(mailbox.put("b"))
    second = asyncio.create_task(mailbox.put("c"))
    await settle()
    assert mailbox.stats().waiting_senders == 2

    assert mailbox.get_nowait() == "a"  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it gets to run

    await finish(second)
    assert first.cancelled()
    assert mailbox.get_nowait() == "c"
    assert len(mailbox) == 0


async def test_each_producer_keeps_its_order_and_nothing_is_lost_or_doubled() -> None:
    mailbox = Mailbox[tuple[int, int]](2)
    producers, per_producer = 4, 25

    async def produce(pid: int) -> None:
        for seq in range(per_producer):
            await mailbox.put((pid, seq))

    tasks = [asyncio.create_task(produce(pid)) for pid in range(producers)]
    received: list[tuple[int, int]] = []
    async with asyncio.timeout(DEADLINE_S):
        for _ in range(producers * per_producer):
            received.append(await mailbox.get())
        await asyncio.gather(*tasks)

    assert sorted(received) == [(pid, seq) for pid in range(producers) for seq in range(per_producer)]
    for pid in range(producers):
        assert [seq for p, seq in received if p == pid] == list(range(per_producer))


async def test_waiting_producers_are_served_in_the_order_they_called_put() -> None:
    mailbox = Mailbox[str](1)
    mailbox.put_nowait("head")
    producers = []
    for name in ("p0", "p1", "p2", "p3"):
        producers.append(asyncio.create_task(mailbox.put(name)))
        await settle()  # each one queues up behind the previous one
    assert mailbox.stats().waiting_senders == 4

    received = [await mailbox.get() for _ in range(5)]
    assert received == ["head", "p0", "p1", "p2", "p3"]
    for producer in producers:
        await finish(producer)


async def test_a_newcomer_does_not_overtake_producers_that_were_already_waiting() -> None:
    mailbox = Mailbox[str](1)
    mailbox.put_nowait("head")
    waiting = [asyncio.create_task(mailbox.put("a"))]
    await settle()
    waiting.append(asyncio.create_task(mailbox.put("b")))
    await settle()

    assert mailbox.get_nowait() == "head"  # frees one slot and promises it to the producer of "a"
    with pytest.raises(MailboxFull):
        mailbox.put_nowait("c")  # a newcomer may not take the promised slot ...
    waiting.append(asyncio.create_task(mailbox.put("c")))  # ... and queues up behind "b"
    await settle()

    received = [await mailbox.get() for _ in range(3)]
    for task in waiting:
        await finish(task)
    assert received == ["a", "b", "c"]


async def test_random_cancellations_neither_lose_nor_duplicate_items() -> None:
    rng = random.Random(20240601)
    mailbox = Mailbox[int](3)
    puts = [asyncio.create_task(mailbox.put(n)) for n in range(300)]
    received: list[int] = []
    getter: asyncio.Task[int] | None = None

    async def consume() -> None:
        nonlocal getter
        while True:
            getter = asyncio.create_task(mailbox.get())
            await asyncio.wait({getter})
            if getter.cancelled():
                continue
            if isinstance(getter.exception(), MailboxClosed):
                return
            received.append(getter.result())

    consumer = asyncio.create_task(consume())
    async with asyncio.timeout(5):
        while not all(p.done() for p in puts):
            pending = [p for p in puts if not p.done()]
            if rng.random() < 0.3:
                rng.choice(pending).cancel()
            if getter is not None and not getter.done() and rng.random() < 0.3:
                getter.cancel()
            await asyncio.sleep(0)
        mailbox.close()
        await consumer

    delivered = {n for n, p in enumerate(puts) if not p.cancelled()}
    assert len(received) == len(set(received)), "an item was delivered twice"
    assert set(received) == delivered
    assert any(p.cancelled() for p in puts) and delivered, "the test should exercise both outcomes"
