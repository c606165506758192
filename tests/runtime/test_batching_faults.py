"""What a Batcher leaves behind when its loop stops, or its function raises the unexpected."""

from __future__ import annotations

import asyncio
import threading

from addax.runtime.batching import Batcher


async def test_a_submitter_hears_when_the_loop_stops_during_its_batch() -> None:
    started, release = threading.Event(), threading.Event()

    def slow(batch: list[int]) -> list[int]:
        started.set()
        release.wait(5)
        return [item * 2 for item in batch]

    batcher = Batcher(slow, max_size=4, max_wait_s=0.0)
    loop_task = asyncio.create_task(batcher.run())
    submitted = asyncio.create_task(batcher.submit(1))
    await asyncio.to_thread(started.wait, 5)
    loop_task.cancel()  # the engine is stopped or restarted while the batch runs
    await asyncio.gather(loop_task, return_exceptions=True)
    release.set()
    done, _ = await asyncio.wait({submitted}, timeout=2)
    assert submitted in done, "the submitter waits forever: its future is never settled"


async def test_a_function_raising_stopiteration_fails_its_item_and_the_loop_goes_on() -> None:
    def odd(batch: list[int]) -> list[int]:
        if 0 in batch:
            raise StopIteration  # e.g. next() on an empty iterator inside a model adapter
        return [item * 2 for item in batch]

    batcher = Batcher(odd, max_size=1, max_wait_s=0.0)
    loop_task = asyncio.create_task(batcher.run())
    try:
        first = asyncio.create_task(batcher.submit(0))
        done, _ = await asyncio.wait({first}, timeout=2)
        assert first in done, "the item whose function raised StopIteration never hears back"
        assert await asyncio.wait_for(batcher.submit(2), 2) == 4, "the next item is not served"
    finally:
        loop_task.cancel()
        await asyncio.gather(loop_task, return_exceptions=True)
