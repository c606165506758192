"""One-for-one supervision with exponential backoff and a restart budget.

The supervisor starts actors in the order given and stops them in reverse order. A crashed actor
is restarted on its own (one-for-one) after a growing delay. When more than ``max_restarts``
restarts happen within ``over_seconds`` the budget is spent: the supervisor *escalates* — it
sets ``escalated`` so the process can stop everything and exit non-zero, and systemd or Docker
start it afresh.

::

    async with Supervisor() as supervisor:      # owns an asyncio.TaskGroup
        await supervisor.start(first)            # returns when first is ready
        pool = await supervisor.use("database", open_pool(), probe=ping)   # a resource, see below
        await supervisor.start(second)           # may use the pool
        await supervisor.wait_escalated()        # or a signal, whichever comes first
    # leaving the block stops second, closes the pool, then stops first, within stop_timeout

A *resource* (a connection pool, a client) is not an actor: it has no loop of its own. ``use``
opens it (an async context manager) for the supervisor's lifetime, closes it in reverse start
order with the actors, and checks it with its probe every few seconds, so that health shows an
unreachable database or Redis like an unhealthy actor.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from addax.runtime.actor import Actor, ActorHealth
from addax.runtime.resource import Resource

R = TypeVar("R")

log = logging.getLogger("addax.supervisor")


class SupervisorEscalation(Exception):
    """An actor crashed more often than the restart budget allows."""


@dataclass(frozen=True, slots=True)
class RestartBudget:
    max_restarts: int = 10
    over_seconds: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0


class Supervisor:
    def __init__(self, *, budget: RestartBudget | None = None, stop_timeout: float = 10.0) -> None:
        self.budget = budget or RestartBudget()
        self.stop_timeout = stop_timeout
        self._actors: list[Actor[Any]] = []
        self._children: list[Actor[Any] | Resource[Any]] = []  # in start order, for stop and health
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._group = asyncio.TaskGroup()
        self._escalated = asyncio.Event()
        self._stopping = False
        self.escalation: SupervisorEscalation | None = None

    async def __aenter__(self) -> Supervisor:
        await self._group.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        await self._group.__aexit__(exc_type, exc, tb)

    @property
    def actors(self) -> list[Actor[Any]]:
        return list(self._actors)

    def health(self) -> list[ActorHealth]:
        return [child.health() for child in self._children]

    @property
    def escalated(self) -> bool:
        return self._escalated.is_set()

    async def wait_escalated(self) -> None:
        await self._escalated.wait()

    async def start(self, actor: Actor[Any]) -> None:
        """Start ``actor`` and return once it is ready; raise what its first ``on_start`` raised."""
        if actor.name in self._tasks:
            raise ValueError(f"an actor named {actor.name!r} is already supervised")
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._actors.append(actor)
        self._children.append(actor)
        self._tasks[actor.name] = self._group.create_task(self._supervise(actor, ready), name=actor.name)
        try:
            await ready
        except BaseException:
            self._actors.remove(actor)
            self._children.remove(actor)
            task = self._tasks.pop(actor.name)
            task.cancel()  # the caller gave up (cancelled) or on_start failed: nothing may run untracked
            await asyncio.gather(task, return_exceptions=True)
            raise

    async def use(
        self,
        name: str,
        resource: AbstractAsyncContextManager[R],
        *,
        probe: Callable[[R], Awaitable[object]],
        every_s: float = 5.0,
    ) -> R:
        """Open ``resource`` until the supervisor stops, checked by ``probe`` every ``every_s`` seconds."""
        if name in self._tasks:
            raise ValueError(f"{name!r} is already supervised")
        opened = Resource(name, resource, probe)
        value = await opened.open()
        self._children.append(opened)
        self._tasks[name] = self._group.create_task(opened.watch(every_s), name=f"{name}-probe")
        return value

    async def stop(self) -> None:
        """Stop in reverse start order: actors close intake, drain, are cancelled at the deadline; resources close."""
        self._stopping = True  # an actor that fails from here on is not restarted
        deadline = time.monotonic() + self.stop_timeout
        for child in reversed(self._children):
            if isinstance(child, Resource):
                await child.close(self._tasks[child.name], timeout=max(0.1, deadline - time.monotonic()))
                continue
            actor = child
            task = self._tasks.get(actor.name)
            if task is None or task.done():
                continue
            if not actor.request_stop():
                task.cancel()
            remaining = max(0.1, deadline - time.monotonic())
            try:
                await asyncio.wait_for(asyncio.shield(task), remaining)
            except TimeoutError:
                log.warning("actor did not stop in time, cancelling", extra={"actor": actor.name})
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
            except Exception:
                pass  # the actor's own task already logged and recorded it

    async def _supervise(self, actor: Actor[Any], ready: asyncio.Future[None]) -> None:
        restarts: deque[float] = deque()
        delay = self.budget.backoff_initial
        while True:
            started_at = time.monotonic()
            error = await self._run_once(actor, ready)
            if error is None:
                return
            if not ready.done():
                ready.set_exception(error)
                return
            if self._stopping:
                return
            now = time.monotonic()
            if now - started_at > self.budget.backoff_max:
                delay = self.budget.backoff_initial  # it ran well for a while: forget old crashes
            restarts.append(now)
            while restarts and now - restarts[0] > self.budget.over_seconds:
                restarts.popleft()
            if len(restarts) > self.budget.max_restarts:
                self._escalate(actor)
                return
            log.warning(
                "actor crashed, restarting",
                extra={"actor": actor.name, "error": actor.last_error, "retry_in_s": round(delay, 2)},
            )
            await asyncio.sleep(delay)
            if self._stopping:
                return
            delay = min(delay * 2, self.budget.backoff_max)
            actor.restarts += 1

    async def _run_once(self, actor: Actor[Any], ready: asyncio.Future[None]) -> Exception | None:
        """One life of an actor: on_start, run, on_stop. Returns the error that ended it, if any."""
        try:
            await actor.on_start()
            actor.alive = True
            if not ready.done():
                ready.set_result(None)
            await actor.run()
            return None
        except Exception as error:
            actor.record_error(error)
            if ready.done():
                log.exception("actor failed", extra={"actor": actor.name})
            return error
        finally:
            actor.alive = False
            try:
                await actor.on_stop()
            except Exception as error:
                actor.record_error(error)
                log.exception("actor failed to stop cleanly", extra={"actor": actor.name})

    def _escalate(self, actor: Actor[Any]) -> None:
        self.escalation = SupervisorEscalation(
            f"{actor.name} crashed more than {self.budget.max_restarts} times in "
            f"{self.budget.over_seconds:g}s; last error: {actor.last_error}"
        )
        log.error("restart budget spent", extra={"actor": actor.name, "error": str(self.escalation)})
        self._escalated.set()
