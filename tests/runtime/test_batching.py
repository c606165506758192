"""The batcher: items submitted one by one are run together, urgent ones first, a failing item alone."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

import pytest

from addax.runtime.batching import Batcher, Overloaded
from tests.waiting import eventually


class Doubler:
    """Doubles numbers in batches; a negative number makes its whole batch raise (like a model falling over)."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.gate = gate
        self.entered = threading.Event()  # a batch is inside (held at the gate, if any)

    def __call__(self, batch: list[int]) -> list[int]:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.batches.append(list(batch))
        if any(item < 0 for item in batch):
            raise ValueError(f"cannot double {min(batch)}")
        return [item * 2 for item in batch]


@contextlib.asynccontextmanager
async def running(batcher: Batcher[int, int]) -> AsyncIterator[None]:
    task = asyncio.create_task(batcher.run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_items_waiting_together_run_as_one_batch() -> None:
    fn = Doubler()
    batcher = Batcher(fn, max_size=4, max_wait_s=0.05)
    async with running(batcher):
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
    assert results == [i * 2 for i in range(10)]
    assert [len(batch) for batch in fn.batches] == [4, 4, 2]
    assert batcher.stats().items == 10 and batcher.stats().batches == 3


async def test_a_failing_item_is_isolated_and_the_others_succeed() -> None:
    fn = Doubler()
    batcher = Batcher(fn, max_size=8, max_wait_s=0.05)
    items = [1, 2, 3, -4, 5, 6, 7, 8]
    async with running(batcher):
        results = await asyncio.gather(*(batcher.submit(i) for i in items), return_exceptions=True)
    assert results[:3] == [2, 4, 6] and results[4:] == [10, 12, 14, 16]
    assert isinstance(results[3], ValueError) and "-4" in str(results[3])
    # 8 fails -> halves of 4: [1,2,3,-4] fails, [5..8] runs -> [1,2] runs, [3,-4] fails -> [3] runs, [-4] fails.
    assert fn.batches == [items, items[:4], items[:2], items[2:4], [3], [-4], items[4:]]
    assert batcher.stats().split_batches == 3


async def test_urgent_items_go_before_the_backlog_and_overload_is_refused() -> None:
    gate = threading.Event()
    fn = Doubler(gate)
    batcher = Batcher(fn, max_size=2, max_wait_s=0.0, max_urgent=2)
    async with running(batcher):
        first = asyncio.create_task(batcher.submit(100))  # holds the executor until the gate opens
        await asyncio.to_thread(fn.entered.wait, 5)
        backlog = [asyncio.create_task(batcher.submit(i)) for i in range(4)]
        urgent = [asyncio.create_task(batcher.submit(i, urgent=True)) for i in (50, 51)]
        await eventually(lambda: batcher.pending == 6, what="six items waiting")
        with pytest.raises(Overloaded):
            await batcher.submit(52, urgent=True)
        gate.set()
        await asyncio.gather(first, *backlog, *urgent)
    assert fn.batches[0] == [100]
    assert fn.batches[1] == [50, 51], "the waiting callers first"
    assert fn.batches[2:] == [[0, 1], [2, 3]]


async def test_a_caller_that_gives_up_is_not_run() -> None:
    gate = threading.Event()
    fn = Doubler(gate)
    batcher = Batcher(fn, max_size=1, max_wait_s=0.0)
    async with running(batcher):
        busy = asyncio.create_task(batcher.submit(1))
        await asyncio.to_thread(fn.entered.wait, 5)
        abandoned = asyncio.create_task(batcher.submit(2))
        await eventually(lambda: batcher.pending == 1, what="the second item waiting")
        abandoned.cancel()
        gate.set()
        assert await busy == 2
        assert await batcher.submit(3) == 6
    assert fn.batches == [[1], [3]]


async def test_an_urgent_item_does_not_wait_for_its_batch_to_fill() -> None:
    fn = Doubler()
    batcher = Batcher(fn, max_size=8, max_wait_s=5.0)
    async with running(batcher):
        assert await asyncio.wait_for(batcher.submit(4, urgent=True), 1.0) == 8, "not held for max_wait_s"
    assert fn.batches == [[4]]
