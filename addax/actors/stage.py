"""The shape every pipeline stage shares: claim images of one stage, work on a few at once, move them on.

::

    on_start: forget the leases of this worker's previous run (a crash leaves them behind)
    run:  ┌─► not ready (no model)? wait ─┐
          │   circuit open? wait out its cooldown, then probe with one image
          │   claim up to the free slots (leased in PostgreSQL) ─► none: wait for a notification or poll_s
          │   each image in its own task: process() ─► its transaction moves it on (work.advancing)
          └───────────────────────────────────────────┘
          meanwhile: renew the leases of the images in hand

Failures, per image:

- an outage (the database is unreachable, the model engine stopped): given back uncounted, tried again shortly;
- :class:`ImageUnusable` (cannot be decoded): failed at once, a dead letter, blurred whole (fail closed);
- anything else: counted, tried again after an exponential backoff; after ``max_attempts`` failed as above.

When ``breaker_after`` different images fail with no success between them the circuit opens: the stage is
reported degraded, images failing meanwhile are given back uncounted (the fault is the model's, not theirs)
and one probe image is tried per cooldown, which doubles up to ``breaker_max_s``, until one succeeds; a probe
that fails counts as its attempt, so one photo that always fails still ends as a dead letter.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

import asyncpg

from addax.models.registry import ModelUnavailable
from addax.runtime import Actor
from addax.runtime.batching import BatcherStopped
from addax.runtime.signal import Signal
from addax.store import database, work
from addax.store.objects import ObjectStore, ObjectStoreError
from addax.store.work import Claimed, LeaseLost

log = logging.getLogger("addax.pipeline")

Publish = Callable[[str, dict[str, Any]], None]

# What a bookkeeping write may meet without harm: the lease then runs out and the image is taken again.
_BOOKKEEPING_ERRORS: tuple[type[BaseException], ...] = (*database.OUTAGE_ERRORS, LeaseLost)
_STOP_ERRORS: tuple[type[BaseException], ...] = (TimeoutError, *database.OUTAGE_ERRORS)
# The image is given back uncounted: the database or the object store is out, or its model engine stopped or lost
# its model.
_NOT_THE_IMAGES_FAULT: tuple[type[BaseException], ...] = (
    *database.OUTAGE_ERRORS,
    BatcherStopped,
    ModelUnavailable,
    ObjectStoreError,
)


class ImageUnusable(Exception):
    """This image can never pass this stage (it cannot be decoded): no retry helps."""


@dataclass(frozen=True, slots=True)
class StagePolicy:
    in_flight: int = 16  # images worked on at once; more than a batch, so the next batch is ready in time
    lease_s: float = 60.0
    max_attempts: int = 5
    retry_base_s: float = 5.0
    retry_max_s: float = 600.0
    poll_s: float = 2.0  # notifications wake a stage at once; polling catches retries that came due
    breaker_after: int = 5
    breaker_cooldown_s: float = 10.0
    breaker_max_s: float = 300.0
    outage_retry_s: float = 2.0


class StageActor(Actor[None]):
    #: the stage images are taken from and the one they are moved to
    source: ClassVar[str]
    target: ClassVar[str]
    #: what the work is called in dead letters and logs
    work_name: ClassVar[str]
    #: the actor's name in health and in its leases
    actor_name: ClassVar[str]

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        worker: str,
        wake: Signal,
        policy: StagePolicy | None = None,
        publish: Publish | None = None,
    ) -> None:
        super().__init__(name=self.actor_name)
        self._pool, self._wake = pool, wake
        self.worker = f"{worker}/{self.name}"
        self.policy = policy or StagePolicy()
        self._publish = publish or (lambda event, data: None)
        self._held: set[int] = set()
        self._freed = asyncio.Event()
        self._failing: set[int] = set()  # images that failed since the last success
        self._probe: int | None = None  # the one image tried while the circuit is open
        self._open_since: float | None = None  # wall time the circuit opened
        self._cooldown_s = self.policy.breaker_cooldown_s
        self._closed_until = 0.0  # monotonic time of the next probe while open
        self._stopping = False

    # -- what each stage provides ----------------------------------------------------------------------

    def unavailable(self) -> str | None:
        """Why the stage cannot work now (no model yet), or None."""
        return None

    async def process(self, image: Claimed) -> None:
        """Do the stage's work and move the image on inside ``work.advancing`` (or raise)."""
        raise NotImplementedError

    async def on_give_up(self, image: Claimed, error: str) -> None:
        """The image is failed for good: a stage may still make something of it (a blurred thumbnail)."""

    # -- the loop --------------------------------------------------------------------------------------

    async def on_start(self) -> None:
        released = await work.release_all(self._pool, self.worker)
        if released:
            log.info("took back leases of an earlier run", extra={"actor": self.name, "count": released})

    async def on_stop(self) -> None:
        try:
            await asyncio.wait_for(work.release_all(self._pool, self.worker), 5)
        except _STOP_ERRORS:
            pass  # the leases run out by themselves

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            renewing = group.create_task(self._renew_forever())
            while not self._stopping:
                await self._take_more(group)
            while self._held:  # stopping: finish what is in hand (the supervisor cancels at its deadline)
                self._freed.clear()
                await self._freed.wait()
            renewing.cancel()

    def request_stop(self) -> bool:
        """Phase one of shutdown: claim nothing more; ``run`` returns once the images in hand are done."""
        self._stopping = True
        self._wake.notify()
        self._freed.set()
        return True

    async def _take_more(self, group: asyncio.TaskGroup) -> None:
        if self.unavailable() is not None:
            await self._wake.wait(self.policy.poll_s)
            return
        if self._open_since is not None and (wait := self._closed_until - time.monotonic()) > 0:
            await self._wake.wait(wait)  # woken early only to stop
            return
        free = self.policy.in_flight - len(self._held)
        if self._open_since is not None:
            free = 1 if not self._held else 0  # half-open: one probe at a time
        if free <= 0:
            self._freed.clear()
            await self._freed.wait()
            return
        try:
            claimed = await work.claim(
                self._pool, self.source, self.worker, free, self.policy.lease_s, holding=list(self._held)
            )
        except database.OUTAGE_ERRORS as error:
            self.record_error(error)
            await asyncio.sleep(self.policy.outage_retry_s)
            return
        if not claimed:
            await self._wake.wait(self.policy.poll_s)
            return
        if self._open_since is not None:
            self._probe = claimed[0].id
        for image in claimed:
            self._held.add(image.id)
            group.create_task(self._one(image))
        if len(claimed) == free:
            await asyncio.sleep(0)  # let the new tasks start before claiming again

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.policy.lease_s / 3)
            if self._held:
                try:
                    await work.renew(self._pool, self.worker, list(self._held), self.policy.lease_s)
                except database.OUTAGE_ERRORS as error:
                    self.record_error(error)

    async def _one(self, image: Claimed) -> None:
        context = {"actor": self.name, "image_id": image.id, "trace_id": str(image.trace_id)}
        try:
            await self._attempt(image, context)
        except Exception as error:  # recording the outcome failed: the lease runs out, the image is taken again
            self.record_error(error)
            log.exception("could not record what became of an image", extra=context)
        finally:
            self._held.discard(image.id)
            if self._probe == image.id:
                self._probe = None
            self._freed.set()

    async def _attempt(self, image: Claimed, context: dict[str, Any]) -> None:
        try:
            started = time.monotonic()
            await self.process(image)
        except LeaseLost as error:
            log.warning("lease lost; another worker has the image", extra=context | {"error": str(error)})
        except _NOT_THE_IMAGES_FAULT as error:
            self.record_error(error)
            await self._quietly(work.release(self._pool, self.worker, image.id, retry_in_s=self.policy.outage_retry_s))
        except ImageUnusable as error:
            await self._give_up(image, str(error), context)
        except Exception as error:
            await self._failed(image, error, context)
        else:
            self._succeeded()
            log.debug("moved on", extra=context | {"to": self.target, "s": round(time.monotonic() - started, 3)})

    def _succeeded(self) -> None:
        self.mark_success()
        self._failing.clear()
        if self._open_since is not None:
            log.warning("circuit closed: the stage works again", extra={"actor": self.name})
            self._publish("system.recovered", {"stage": self.work_name})
            self._open_since, self._cooldown_s = None, self.policy.breaker_cooldown_s

    async def _failed(self, image: Claimed, error: Exception, context: dict[str, Any]) -> None:
        """Count the attempt, unless the circuit is open and the image only failed with everything else."""
        self.record_error(error)
        text = f"{type(error).__name__}: {error}"
        probing = self._probe == image.id
        self._failing.add(image.id)  # distinct images: one bad photo failing again and again is not an outage
        if len(self._failing) >= self.policy.breaker_after:
            self._trip(text)
        if self._open_since is not None and not probing:
            await self._quietly(work.release(self._pool, self.worker, image.id, retry_in_s=self._cooldown_s))
            return
        attempt = image.attempts + 1
        if attempt >= self.policy.max_attempts:
            await self._give_up(image, f"gave up after {attempt} attempts: {text}", context)
            return
        delay = min(self.policy.retry_max_s, self.policy.retry_base_s * 2 ** (attempt - 1))
        log.warning("failed; trying again later", extra=context | {"error": text, "attempt": attempt, "in_s": delay})
        await self._quietly(work.retry_later(self._pool, self.worker, image.id, text, delay))

    def _trip(self, error: str) -> None:
        now = time.monotonic()
        if self._open_since is None:
            self._open_since = time.time()
            log.error(
                "circuit open: the stage keeps failing, images wait until a probe succeeds",
                extra={"actor": self.name, "error": error, "failing_images": len(self._failing)},
            )
            self._publish("system.degraded", {"stage": self.work_name, "since": self._open_since, "error": error})
        elif now < self._closed_until:
            return  # an image taken before the circuit opened: the cooldown already runs
        else:
            self._cooldown_s = min(self.policy.breaker_max_s, self._cooldown_s * 2)  # the probe failed
        self._closed_until = now + self._cooldown_s

    async def _give_up(self, image: Claimed, error: str, context: dict[str, Any]) -> None:
        log.error("failed for good: a dead letter", extra=context | {"error": error})
        if await self._quietly(work.give_up(self._pool, self.worker, image.id, self.work_name, error)):
            await self._quietly(self.on_give_up(image, error))

    async def _quietly(self, step: Any) -> Any:
        """A bookkeeping write that must not kill the loop: an outage leaves the lease to run out."""
        try:
            return await step
        except _BOOKKEEPING_ERRORS as error:
            self.record_error(error)
            return None

    # -- health ----------------------------------------------------------------------------------------

    def detail(self) -> str | None:
        if (reason := self.unavailable()) is not None:
            return f"waiting: {reason}"
        if self._open_since is not None:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._open_since))
            return f"circuit open since {since}: {self.last_error}"
        return None

    def is_healthy(self) -> bool:
        return self._open_since is None

    @property
    def in_hand(self) -> int:
        return len(self._held)


EngineT = TypeVar("EngineT")


class ModelStage(StageActor, Generic[EngineT]):
    """A stage that runs a model: its engine, the object store it reads photos from, the pool that decodes them."""

    def __init__(
        self, *, engine: EngineT, objects: ObjectStore, prepare_pool: ThreadPoolExecutor, **stage: Any
    ) -> None:
        super().__init__(**stage)
        self._engine, self._objects, self._prepare_pool = engine, objects, prepare_pool
