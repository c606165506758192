"""Gather items submitted one at a time into batches for a blocking function run in an executor.

::

    submit(item) ──► urgent / normal queue ──► [run loop] take up to max_size, waiting at most max_wait_s
                                                     │ for the batch to fill once its first item is there
                                                     ▼
                                          executor: fn(batch) -> one result per item
                                                     │ raises: the batch is split in halves and each half
                                                     ▼ run again, so one bad item fails alone
                                          each submitter's future gets its own result or error

Urgent items (an API caller waiting on the line) are taken before normal ones (the pipeline's backlog),
so interactive latency does not grow with the backlog; ``max_urgent`` bounds how many may wait, beyond it
``submit`` raises :class:`Overloaded` at once, for the caller to say "try again later".
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Generic, TypeVar

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


class Overloaded(Exception):
    """Too many urgent items are already waiting."""


class BatcherStopped(Exception):
    """The batcher's loop ended (stopped or restarting) before the item ran."""


@dataclass(slots=True)
class _Pending(Generic[ItemT, ResultT]):
    item: ItemT
    future: asyncio.Future[ResultT]


@dataclass(frozen=True, slots=True)
class BatchStats:
    batches: int
    items: int
    split_batches: int
    busy_s: float  # time spent inside fn
    pending: int


class Batcher(Generic[ItemT, ResultT]):
    def __init__(
        self,
        fn: Callable[[list[ItemT]], Sequence[ResultT]],
        *,
        max_size: int,
        max_wait_s: float,
        executor: Executor | None = None,
        max_urgent: int = 64,
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._fn, self._max_size, self._max_wait_s = fn, max_size, max_wait_s
        self._executor, self._max_urgent = executor, max_urgent
        self._urgent: collections.deque[_Pending[ItemT, ResultT]] = collections.deque()
        self._normal: collections.deque[_Pending[ItemT, ResultT]] = collections.deque()
        self._arrived = asyncio.Event()
        self._batches = self._items = self._splits = 0
        self._busy_s = 0.0

    @property
    def pending(self) -> int:
        return len(self._urgent) + len(self._normal)

    def stats(self) -> BatchStats:
        return BatchStats(self._batches, self._items, self._splits, self._busy_s, self.pending)

    def admit(self) -> None:
        """Raise :class:`Overloaded` if an urgent item submitted now would be refused."""
        if len(self._urgent) >= self._max_urgent:
            raise Overloaded(f"{len(self._urgent)} requests are already waiting")

    async def submit(self, item: ItemT, *, urgent: bool = False) -> ResultT:
        if urgent:
            self.admit()
        pending: _Pending[ItemT, ResultT] = _Pending(item, asyncio.get_running_loop().create_future())
        (self._urgent if urgent else self._normal).append(pending)
        self._arrived.set()
        try:
            return await pending.future
        finally:
            if not pending.future.done():  # the caller gave up: do not run it
                pending.future.cancel()

    async def run(self) -> None:
        """Form and run batches until cancelled; one batch at a time, so batches never compete for cores.

        When the loop ends, whoever still waits (in the batch that was running, or queued) is told, not left
        waiting forever.
        """
        batch: list[_Pending[ItemT, ResultT]] = []
        try:
            while True:
                batch = await self._next_batch()
                if batch:
                    await self._run(batch)
                batch = []
        finally:
            stopped = BatcherStopped("the batcher stopped before this item ran")
            for pending in [*batch, *self._urgent, *self._normal]:
                _settle(pending, error=stopped)
            self._urgent.clear()
            self._normal.clear()

    async def _next_batch(self) -> list[_Pending[ItemT, ResultT]]:
        while not self.pending:
            self._arrived.clear()
            await self._arrived.wait()
        # A caller waiting on the line does not wait for a batch to fill: it runs with whatever is there.
        deadline = time.monotonic() + (0.0 if self._urgent else self._max_wait_s)
        while self.pending < self._max_size and (left := deadline - time.monotonic()) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                break
        batch: list[_Pending[ItemT, ResultT]] = []
        for queue in (self._urgent, self._normal):
            while queue and len(batch) < self._max_size:
                pending = queue.popleft()
                if not pending.future.done():
                    batch.append(pending)
        return batch

    async def _run(self, batch: list[_Pending[ItemT, ResultT]]) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            results = await loop.run_in_executor(self._executor, _guarded, self._fn, [p.item for p in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"batch function returned {len(results)} results for {len(batch)} items")
        except Exception as error:
            self._busy_s += time.monotonic() - started
            if len(batch) == 1:
                _settle(batch[0], error=error)
                return
            self._splits += 1
            middle = len(batch) // 2
            await self._run(batch[:middle])
            await self._run(batch[middle:])
            return
        self._busy_s += time.monotonic() - started
        self._batches += 1
        self._items += len(batch)
        for pending, result in zip(batch, results, strict=True):
            _settle(pending, result=result)


def _settle(
    pending: _Pending[ItemT, ResultT], *, result: ResultT | None = None, error: BaseException | None = None
) -> None:
    if pending.future.done():
        return
    if error is not None:
        pending.future.set_exception(error)
    else:
        pending.future.set_result(result)  # type: ignore[arg-type]


def _guarded(fn: Callable[[list[ItemT]], Sequence[ResultT]], items: list[ItemT]) -> Sequence[ResultT]:
    """``fn(items)``, its StopIteration made a RuntimeError (a future cannot carry StopIteration)."""
    try:
        return fn(items)
    except StopIteration as error:
        raise RuntimeError(f"the batch function raised StopIteration: {error}") from None
