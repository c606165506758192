"""The actor base: one job, one bounded mailbox, the same lifecycle hooks everywhere.

::

    Supervisor.start(actor)
          │
          ▼
      on_start()  ──raises──►  first start: Supervisor.start() raises (the service does not come up)
          │                    later starts: counted as a crash, retried with backoff
          ▼
      [ready]  ── Supervisor.start() returns here, so callers know the actor is serving
          │
          ▼
       run()     default: ``concurrency`` loops take turns on the mailbox, each ``handle``s a message
          │  returns (mailbox closed and drained)  ─► on_stop() ─► done
          │  raises                                ─► on_stop() ─► backoff ─► on_start() ...
          │  cancelled (shutdown deadline passed)  ─► on_stop() ─► done
          ▼
      on_stop()   always runs once for every on_start() that was attempted

Subclasses override the hooks they need; dependencies are keyword-only constructor arguments.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Generic, TypeVar

from addax.runtime.mailbox import Mailbox, MailboxClosed

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ActorHealth:
    name: str
    alive: bool
    healthy: bool
    restarts: int
    last_error: str | None
    last_error_at: float | None
    last_success_at: float | None
    mailbox_depth: int
    mailbox_capacity: int
    detail: str | None = None  # what the actor wants an operator to know (waiting for a model, circuit open)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Actor(Generic[T]):
    #: Size of the bounded mailbox; 0 means the actor takes no messages.
    mailbox_capacity: ClassVar[int] = 0
    #: How many messages are handled at once (like arq's ``max_jobs``); an actor may set its own in __init__.
    concurrency: int = 1

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name or type(self).__name__.lower()
        self.mailbox: Mailbox[T] | None = Mailbox(self.mailbox_capacity) if self.mailbox_capacity else None
        self.alive = False
        self.restarts = 0
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.last_success_at: float | None = None

    # -- hooks ---------------------------------------------------------------------------------

    async def on_start(self) -> None:
        """Acquire what the actor needs; return once it is ready to serve."""

    async def run(self) -> None:
        """The actor's loop. The default serves the mailbox; an actor without one idles."""
        if self.mailbox is None:
            await asyncio.Event().wait()
            return
        if self.concurrency == 1:
            await self._serve(self.mailbox)
            return
        async with asyncio.TaskGroup() as loops:
            for _ in range(self.concurrency):
                loops.create_task(self._serve(self.mailbox))

    async def _serve(self, mailbox: Mailbox[T]) -> None:
        while True:
            try:
                message = await mailbox.get()
            except MailboxClosed:
                return
            await self.handle(message)
            self.mark_success()

    async def handle(self, message: T) -> None:
        raise NotImplementedError(f"{self.name} has a mailbox but does not handle messages")

    async def on_stop(self) -> None:
        """Release what on_start acquired. Must tolerate a partial on_start."""

    # -- for other actors and the supervisor ---------------------------------------------------

    async def send(self, message: T) -> None:
        """Deliver a message, waiting while the mailbox is full (backpressure)."""
        if self.mailbox is None:
            raise TypeError(f"{self.name} takes no messages")
        await self.mailbox.put(message)

    def request_stop(self) -> bool:
        """Phase one of shutdown: stop taking new work. Return False to be cancelled instead.

        The default closes the mailbox, so ``run`` drains what is queued and returns.
        """
        if self.mailbox is None:
            return False
        self.mailbox.close()
        return True

    def is_healthy(self) -> bool:
        """Whether a live actor is also doing its job (e.g. its server answers). Override to refine."""
        return True

    def detail(self) -> str | None:
        """A line for health: why the actor waits or is degraded. Override to say something."""
        return None

    def mark_success(self) -> None:
        self.last_success_at = time.time()

    def record_error(self, error: BaseException) -> None:
        self.last_error = f"{type(error).__name__}: {error}"
        self.last_error_at = time.time()

    def health(self) -> ActorHealth:
        stats = self.mailbox.stats() if self.mailbox is not None else None
        return ActorHealth(
            name=self.name,
            alive=self.alive,
            healthy=self.alive and self.is_healthy(),
            restarts=self.restarts,
            last_error=self.last_error,
            last_error_at=self.last_error_at,
            last_success_at=self.last_success_at,
            mailbox_depth=stats.depth if stats else 0,
            mailbox_capacity=stats.capacity if stats else 0,
            detail=self.detail(),
        )
