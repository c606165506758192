"""Supervisor and Actor lifecycle, tested with tiny counting actors (no mocks).

Every wait is on an event or a counter, bounded by a deadline; the only fixed durations are the
restart backoffs and stop timeouts the tests configure, which are what they measure.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

import pytest

from addax.runtime.actor import Actor, ActorHealth
from addax.runtime.mailbox import MailboxClosed
from addax.runtime.supervisor import RestartBudget, Supervisor, SupervisorEscalation
from tests.waiting import eventually

DEADLINE_S = 2.0
FAST = RestartBudget(max_restarts=100, over_seconds=60, backoff_initial=0.001, backoff_max=0.01)
R = TypeVar("R")


async def settle(rounds: int = 5) -> None:
    """Give every ready task a few turns of the loop (a yield, not a wait for an event)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


async def finish(awaitable: Awaitable[R]) -> R:
    async with asyncio.timeout(DEADLINE_S):
        return await awaitable


class Tally:
    """A counter a test can wait on."""

    def __init__(self) -> None:
        self.count = 0
        self._changed = asyncio.Event()

    def bump(self) -> None:
        self.count += 1
        self._changed.set()

    async def reach(self, n: int, *, within: float = DEADLINE_S) -> None:
        async with asyncio.timeout(within):
            while self.count < n:
                self._changed.clear()
                await self._changed.wait()


class Counting(Actor[str]):
    """Counts its hooks and writes them to a journal that several actors can share."""

    def __init__(self, *, name: str, journal: list[str] | None = None) -> None:
        super().__init__(name=name)
        self.journal = journal if journal is not None else []
        self.starts, self.runs, self.stops = Tally(), Tally(), Tally()
        self.start_times: list[float] = []
        self.run_cancelled = False

    async def on_start(self) -> None:
        self.journal.append(f"start {self.name}")
        self.start_times.append(time.monotonic())
        self.starts.bump()

    async def run(self) -> None:
        self.runs.bump()
        try:
            await super().run()
        except asyncio.CancelledError:
            self.run_cancelled = True
            raise

    async def on_stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        self.stops.bump()


class Inbox(Counting):
    """A mailbox actor; ``handle`` waits on ``gate`` so a test can hold messages in the mailbox."""

    mailbox_capacity = 10

    def __init__(self, *, name: str, journal: list[str] | None = None) -> None:
        super().__init__(name=name, journal=journal)
        self.gate = asyncio.Event()
        self.gate.set()
        self.handled: list[str] = []
        self.stop_requested = asyncio.Event()

    async def handle(self, message: str) -> None:
        await self.gate.wait()
        self.handled.append(message)

    def request_stop(self) -> bool:
        self.stop_requested.set()
        return super().request_stop()


class CrashingRun(Counting):
    """``run`` raises during the first ``crashes`` lives, then idles."""

    def __init__(self, *, name: str, crashes: int = 1_000_000) -> None:
        super().__init__(name=name)
        self.crashes = crashes

    async def run(self) -> None:
        self.runs.bump()
        if self.runs.count <= self.crashes:
            raise RuntimeError(f"boom {self.runs.count}")
        await asyncio.Event().wait()


# -- order and readiness -------------------------------------------------------------------------


async def test_actors_start_in_order_and_stop_in_reverse_order() -> None:
    journal: list[str] = []
    first = Counting(name="first", journal=journal)
    second = Inbox(name="second", journal=journal)
    third = Counting(name="third", journal=journal)

    async with Supervisor(stop_timeout=5) as supervisor:
        for actor in (first, second, third):
            await supervisor.start(actor)
        assert supervisor.actors == [first, second, third]
        assert journal == ["start first", "start second", "start third"]
        stopping_at = time.monotonic()

    assert journal[3:] == ["stop third", "stop second", "stop first"]
    assert time.monotonic() - stopping_at < 1, "idle actors are cancelled at once, not at the deadline"
    assert [a.stops.count for a in (first, second, third)] == [1, 1, 1]
    assert first.run_cancelled and third.run_cancelled
    assert not second.run_cancelled, "a mailbox actor returns from run by itself"
    assert not any(a.alive for a in (first, second, third))


async def test_start_returns_only_after_on_start_finished() -> None:
    class SlowStart(Counting):
        def __init__(self) -> None:
            super().__init__(name="slow")
            self.entered = asyncio.Event()
            self.proceed = asyncio.Event()
            self.ready = False

        async def on_start(self) -> None:
            self.entered.set()
            await self.proceed.wait()
            self.ready = True

    actor = SlowStart()
    async with Supervisor() as supervisor:
        starting = asyncio.create_task(supervisor.start(actor))
        await finish(actor.entered.wait())
        await settle()
        assert not starting.done(), "start() must wait for on_start"
        assert not actor.health().alive

        actor.proceed.set()
        await finish(starting)
        assert actor.ready
        assert actor.health().alive


async def test_a_failing_first_start_raises_and_the_actor_is_not_listed() -> None:
    class BrokenStart(Counting):
        async def on_start(self) -> None:
            await super().on_start()
            raise RuntimeError("no camera attached")

    broken = BrokenStart(name="camera")
    async with Supervisor(budget=FAST) as supervisor:
        with pytest.raises(RuntimeError, match="no camera attached"):
            await finish(supervisor.start(broken))

        assert supervisor.actors == []
        assert supervisor.health() == []
        assert broken.starts.count == 1, "a failing first start is not retried"
        assert broken.stops.count == 1, "on_stop runs for every attempted on_start"
        assert broken.restarts == 0
        assert broken.last_error == "RuntimeError: no camera attached"
        assert not broken.alive
        assert not supervisor.escalated

        replacement = Counting(name="camera")  # the name is free again
        await supervisor.start(replacement)
        assert supervisor.actors == [replacement]


async def test_a_second_actor_with_the_same_name_is_refused() -> None:
    async with Supervisor() as supervisor:
        await supervisor.start(Counting(name="twin"))
        with pytest.raises(ValueError, match="twin"):
            await supervisor.start(Counting(name="twin"))
        assert len(supervisor.actors) == 1


# -- crashes, backoff, budget --------------------------------------------------------------------


async def test_an_actor_whose_run_raises_is_restarted() -> None:
    budget = RestartBudget(max_restarts=10, over_seconds=60, backoff_initial=0.05, backoff_max=1)
    actor = CrashingRun(name="crashy", crashes=1)
    async with Supervisor(budget=budget) as supervisor:
        await supervisor.start(actor)

        await actor.stops.reach(1)  # it crashed and on_stop ran; now it waits out the backoff
        assert not actor.health().alive
        assert actor.health().restarts == 0
        assert actor.last_error == "RuntimeError: boom 1"
        assert actor.last_error_at is not None

        await actor.runs.reach(2)
        health = actor.health()
        assert health.alive and health.healthy
        assert health.restarts == 1
        assert health.last_error == "RuntimeError: boom 1"
        assert actor.starts.count == 2
        assert supervisor.actors == [actor]
        assert not supervisor.escalated


async def test_an_on_start_that_fails_on_a_restart_counts_as_a_crash_and_is_retried() -> None:
    class FlakyStart(CrashingRun):
        async def on_start(self) -> None:
            await super().on_start()
            if self.starts.count == 2:
                raise OSError("device busy")

    actor = FlakyStart(name="flaky", crashes=1)
    async with Supervisor(budget=FAST) as supervisor:
        await supervisor.start(actor)
        await actor.runs.reach(2)

        assert actor.starts.count == 3
        assert actor.stops.count == 2
        assert actor.restarts == 2
        assert actor.last_error == "OSError: device busy"
        assert actor.health().alive


async def test_repeated_crashes_back_off_exponentially() -> None:
    initial = 0.025  # large enough that scheduling noise on a busy machine cannot hide the doubling
    budget = RestartBudget(max_restarts=100, over_seconds=60, backoff_initial=initial, backoff_max=5)
    actor = CrashingRun(name="looping")
    async with Supervisor(budget=budget) as supervisor:
        await supervisor.start(actor)
        await actor.starts.reach(5, within=5)
        restarts_seen = actor.restarts

    gaps = [later - earlier for earlier, later in itertools.pairwise(actor.start_times[:5])]
    for attempt, gap in enumerate(gaps):
        assert gap >= 0.9 * initial * 2**attempt, f"restart {attempt + 1} came after only {gap:.4f}s: {gaps}"
    assert gaps[3] >= 2 * gaps[0], gaps
    assert restarts_seen == 4
    assert not supervisor.escalated


async def test_a_spent_budget_escalates_and_names_the_actor() -> None:
    budget = RestartBudget(max_restarts=3, over_seconds=60, backoff_initial=0.001, backoff_max=0.01)
    actor = CrashingRun(name="flaky-camera")
    async with Supervisor(budget=budget) as supervisor:
        await supervisor.start(actor)
        await finish(supervisor.wait_escalated())

        assert supervisor.escalated
        assert isinstance(supervisor.escalation, SupervisorEscalation)
        message = str(supervisor.escalation)
        assert "flaky-camera" in message
        assert "3 times" in message
        assert "RuntimeError: boom 4" in message
        assert actor.starts.count == 4, "one start plus max_restarts restarts"
        assert actor.restarts == 3
        health = actor.health()
        assert not health.alive and not health.healthy

        await settle()
        assert actor.starts.count == 4, "an escalated actor is not restarted again"


async def test_crashes_spread_wider_than_the_window_do_not_escalate() -> None:
    budget = RestartBudget(max_restarts=1, over_seconds=0.02, backoff_initial=0.04, backoff_max=1)
    actor = CrashingRun(name="rare")
    async with Supervisor(budget=budget) as supervisor:
        await supervisor.start(actor)
        await actor.starts.reach(3)
        assert not supervisor.escalated
        assert actor.restarts == 2


# -- two-phase stop --------------------------------------------------------------------------------


async def test_a_mailbox_actor_drains_what_is_queued_when_stopped() -> None:
    actor = Inbox(name="inbox")
    actor.gate.clear()
    async with Supervisor(stop_timeout=5) as supervisor:
        await supervisor.start(actor)
        messages = [f"m{n}" for n in range(5)]
        for message in messages:
            await actor.send(message)

        stopping = asyncio.create_task(supervisor.stop())
        await finish(actor.stop_requested.wait())
        with pytest.raises(MailboxClosed):
            await actor.send("after stop")
        assert not stopping.done()

        actor.gate.set()
        await finish(stopping)

    assert actor.handled == messages
    assert not actor.run_cancelled
    assert actor.stops.count == 1
    assert actor.last_success_at is not None


async def test_an_actor_that_ignores_stop_is_cancelled_at_the_deadline_and_on_stop_runs() -> None:
    class Stubborn(Counting):
        def request_stop(self) -> bool:
            return True  # says it will stop, then keeps running

    actor = Stubborn(name="stubborn")
    stop_timeout = 0.2
    async with Supervisor(stop_timeout=stop_timeout) as supervisor:
        await supervisor.start(actor)
        stopping_at = time.monotonic()
    elapsed = time.monotonic() - stopping_at

    assert elapsed >= 0.9 * stop_timeout, f"cancelled after {elapsed:.3f}s, before the deadline"
    assert elapsed < stop_timeout + 1.0
    assert actor.run_cancelled
    assert actor.stops.count == 1
    assert actor.journal == ["start stubborn", "stop stubborn"]


async def test_a_late_actor_does_not_rob_an_earlier_one_of_its_drain() -> None:
    class Stubborn(Counting):
        def request_stop(self) -> bool:
            return True

    class HoldsUntilStop(Inbox):
        def request_stop(self) -> bool:
            self.gate.set()  # handle nothing before its own stop, i.e. after stubborn's deadline
            return super().request_stop()

    journal: list[str] = []
    inbox = HoldsUntilStop(name="inbox", journal=journal)
    inbox.gate.clear()
    stubborn = Stubborn(name="stubborn", journal=journal)
    async with Supervisor(stop_timeout=0.1) as supervisor:
        await supervisor.start(inbox)
        await supervisor.start(stubborn)
        for n in range(3):
            await inbox.send(f"m{n}")

    assert journal[2:] == ["stop stubborn", "stop inbox"]
    assert stubborn.run_cancelled
    assert inbox.handled == ["m0", "m1", "m2"]
    assert not inbox.run_cancelled


# -- health ----------------------------------------------------------------------------------------


async def test_health_reports_mailbox_depth_and_the_is_healthy_override() -> None:
    class Picky(Inbox):
        mailbox_capacity = 4

        def __init__(self) -> None:
            super().__init__(name="picky")
            self.ok = True
            self.serving = asyncio.Event()

        def is_healthy(self) -> bool:
            return self.ok

        async def run(self) -> None:
            await self.serving.wait()
            await super().run()

    actor = Picky()
    idle = Counting(name="idle")
    async with Supervisor() as supervisor:
        await supervisor.start(actor)
        await supervisor.start(idle)
        for n in range(3):
            await actor.send(f"m{n}")

        health = actor.health()
        assert (health.name, health.mailbox_depth, health.mailbox_capacity) == ("picky", 3, 4)
        assert health.alive and health.healthy
        assert health.last_success_at is None

        actor.ok = False
        health = actor.health()
        assert health.alive and not health.healthy

        assert [h.name for h in supervisor.health()] == ["picky", "idle"]
        idle_health = supervisor.health()[1].as_dict()
        assert idle_health["mailbox_depth"] == 0 and idle_health["mailbox_capacity"] == 0
        assert idle_health["healthy"] is True
        assert set(idle_health) == {
            "name",
            "alive",
            "healthy",
            "restarts",
            "last_error",
            "last_error_at",
            "last_success_at",
            "mailbox_depth",
            "mailbox_capacity",
            "detail",
        }
        assert idle_health["detail"] is None, "an actor says nothing unless it overrides detail()"

        actor.ok = True
        actor.serving.set()
    health = actor.health()
    assert health.mailbox_depth == 0
    assert health.last_success_at is not None
    assert not health.alive and not health.healthy, "a stopped actor is not healthy"


async def test_an_actor_without_mailbox_takes_no_messages() -> None:
    with pytest.raises(TypeError, match="takes no messages"):
        await Counting(name="mute").send("hello")


# -- known defect ----------------------------------------------------------------------------------


async def test_cancelling_start_does_not_leave_the_actor_running() -> None:
    class SlowStart(Counting):
        def __init__(self) -> None:
            super().__init__(name="slow")
            self.entered = asyncio.Event()
            self.proceed = asyncio.Event()

        async def on_start(self) -> None:
            await super().on_start()
            self.entered.set()
            await self.proceed.wait()

    actor = SlowStart()
    async with Supervisor(stop_timeout=0.5) as supervisor:
        starting = asyncio.create_task(supervisor.start(actor))
        await finish(actor.entered.wait())
        starting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await finish(starting)
        assert supervisor.actors == []

        actor.proceed.set()
        await actor.stops.reach(1, within=1.0)  # on failure the TaskGroup's abort cleans up
        assert not actor.alive


# -- resources -----------------------------------------------------------------------------------


class Pool:
    """A stand-in resource with a switch for its server being reachable (a test double of a pool, not of our store)."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal
        self.reachable = True

    async def ping(self) -> None:
        if not self.reachable:
            raise ConnectionRefusedError("server gone")


def opened(pool: Pool) -> contextlib.AbstractAsyncContextManager[Pool]:
    @contextlib.asynccontextmanager
    async def manager() -> AsyncIterator[Pool]:
        pool.journal.append("open pool")
        yield pool
        pool.journal.append("close pool")

    return manager()


async def test_a_resource_closes_after_the_actors_started_after_it_and_before_those_before() -> None:
    journal: list[str] = []
    first, last = Counting(name="first", journal=journal), Counting(name="last", journal=journal)
    pool = Pool(journal)
    async with Supervisor(stop_timeout=5) as supervisor:
        await supervisor.start(first)
        assert await supervisor.use("pool", opened(pool), probe=Pool.ping) is pool
        await supervisor.start(last)
    assert journal == ["start first", "open pool", "start last", "stop last", "close pool", "stop first"]


async def test_a_resource_probe_turns_health_red_and_green_again() -> None:
    pool = Pool([])
    async with Supervisor(stop_timeout=5) as supervisor:
        await supervisor.use("pool", opened(pool), probe=Pool.ping, every_s=0.01)

        def entry() -> ActorHealth:
            return next(health for health in supervisor.health() if health.name == "pool")

        assert entry().alive and entry().healthy
        pool.reachable = False
        await eventually(lambda: not entry().healthy, timeout=DEADLINE_S, what="the probe to fail")
        assert entry().alive and "server gone" in (entry().last_error or "")
        pool.reachable = True
        await eventually(lambda: entry().healthy, timeout=DEADLINE_S, what="the probe to pass again")


async def test_concurrency_handles_that_many_messages_at_once_and_drains_on_stop() -> None:
    class Slow(Inbox):
        concurrency = 3

        def __init__(self) -> None:
            super().__init__(name="slow")
            self.busy = self.most_busy = 0

        async def handle(self, message: str) -> None:
            self.busy += 1
            self.most_busy = max(self.most_busy, self.busy)
            await self.gate.wait()
            self.busy -= 1
            self.handled.append(message)

    slow = Slow()
    slow.gate.clear()
    async with Supervisor(stop_timeout=5) as supervisor:
        await supervisor.start(slow)
        for n in range(5):
            await slow.send(str(n))
        await settle()
        assert slow.busy == 3, "three handlers run at once, the rest wait in the mailbox"
        slow.gate.set()
    assert sorted(slow.handled) == ["0", "1", "2", "3", "4"] and slow.most_busy == 3
