"""A model served to the pipeline and the detect API: loaded once it is there, batched, off the event loop.

::

    on_start: load (in a thread) ── none configured / broken ──► detail() says why; retried every recheck_s
        │
        ▼
    run: the batcher's loop ◄── submit(item) from stage actors (normal) and the API (urgent)
         one batch at a time in a dedicated thread, so onnxruntime's own threads keep the cores busy

A model that cannot be opened (missing, corrupt, wrong shape) is one clear log line naming its file, and the
service runs on: the images wait in their stage until a model is installed, then they are picked up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from addax.models.registry import ModelUnavailable, ServedModel
from addax.runtime import Actor
from addax.runtime.batching import Batcher, Overloaded

log = logging.getLogger("addax.inference")

M = TypeVar("M")
Served = TypeVar("Served", bound=ServedModel)
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")

__all__ = ["ModelEngine", "ModelUnavailable", "Overloaded", "Timed"]


@dataclass(frozen=True, slots=True)
class Timed(Generic[ResultT]):
    value: ResultT
    batch_ms: float  # wall time of the whole batch this item ran in
    batch_size: int


def serve(
    *,
    name: str,
    load: Callable[[], Served | None],
    missing: str,
    batch_size: int,
    batch_wait_ms: int,
    max_urgent: int = 32,
) -> ModelEngine[Served, np.ndarray, np.ndarray]:
    """A detector or classifier as an actor: batches of prepared tensors in, raw outputs out."""
    return ModelEngine(
        name=name,
        load=load,
        infer=lambda model, batch: model.infer(batch),
        missing=missing,
        describe=lambda model: f"{model.manifest.label} on {model.provider}",
        batch_size=batch_size,
        batch_wait_s=batch_wait_ms / 1000,
        max_urgent=max_urgent,
    )


class ModelEngine(Actor[None], Generic[M, ItemT, ResultT]):
    def __init__(
        self,
        *,
        name: str,
        load: Callable[[], M | None],
        infer: Callable[[M, list[ItemT]], Sequence[ResultT]],
        missing: str,
        describe: Callable[[M], str],
        batch_size: int,
        batch_wait_s: float,
        recheck_s: float = 5.0,
        max_urgent: int = 64,
    ) -> None:
        """``load`` (blocking) returns the model, None when none is configured, or raises naming the problem."""
        super().__init__(name=name)
        self._load, self._infer, self._missing, self._describe = load, infer, missing, describe
        self._recheck_s = recheck_s
        self.model: M | None = None
        self.problem: str | None = missing
        self.broken = False
        # One thread runs the batches (the model's own threads use the cores). It lives as long as the engine,
        # restarts included: a restarted engine must not find its executor shut down.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._batcher: Batcher[ItemT, Timed[ResultT]] = Batcher(
            self._run_batch,
            max_size=batch_size,
            max_wait_s=batch_wait_s,
            executor=self._executor,
            max_urgent=max_urgent,
        )
        self.loaded = asyncio.Event()

    async def on_start(self) -> None:
        await self._try_load()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._batcher.run())
            while self.model is None:
                await asyncio.sleep(self._recheck_s)
                await self._try_load()
            await asyncio.Event().wait()

    async def _try_load(self) -> None:
        try:
            model = await asyncio.to_thread(self._load)
            description = self._describe(model) if model is not None else ""
        except Exception as error:  # the loader's errors name the file; anything else is a bug, said as such
            problem = str(error)
            if problem != self.problem:
                log.error("model cannot be used", extra={"actor": self.name, "error": problem})
            self.problem, self.broken = problem, True
            return
        if model is None:
            self.problem, self.broken = self._missing, False
            return
        self.model, self.problem, self.broken = model, None, False
        self.loaded.set()
        log.info("model ready", extra={"actor": self.name, "model": description})

    def _run_batch(self, items: list[ItemT]) -> list[Timed[ResultT]]:
        model = self.model
        if model is None:
            raise ModelUnavailable(self.problem or self._missing)
        started = time.perf_counter()
        outputs = self._infer(model, items)
        elapsed_ms = (time.perf_counter() - started) * 1000
        return [Timed(output, elapsed_ms, len(items)) for output in outputs]

    async def submit(self, item: ItemT, *, urgent: bool = False) -> Timed[ResultT]:
        """Run ``item`` in the next batch; :class:`Overloaded` when too many urgent items wait."""
        if self.model is None:
            raise ModelUnavailable(self.problem or self._missing)
        return await self._batcher.submit(item, urgent=urgent)

    def admit(self) -> None:
        """Refuse an urgent caller now (:class:`Overloaded`) when it would be refused after preparing its photo."""
        self._batcher.admit()

    def detail(self) -> str | None:
        if self.model is None:
            return self.problem
        return self._describe(self.model)

    def is_healthy(self) -> bool:
        return not self.broken
