"""Time for things that run on a timetable: the wall clock in the service, a clock the tests set by hand.

Code that waits for a time of day asks its clock, never ``datetime.now`` or ``asyncio.sleep`` directly, so a
test moves a :class:`ManualClock` past midnight or a month's end in an instant instead of sleeping.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sleep_until(self, moment: datetime) -> None:
        """Return at ``moment`` (or soon after)."""
        ...


class SystemClock:
    """The wall clock. Sleeps in slices, so a changed system time is noticed within a minute."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, moment: datetime) -> None:
        await asyncio.sleep(min(max((moment - self.now()).total_seconds(), 0.0), 60.0))


class ManualClock:
    """A clock that moves only when told to; sleepers wake when it passes their time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time needs a timezone")
        self._now = start
        self._moved = asyncio.Condition()

    def now(self) -> datetime:
        return self._now

    async def set(self, moment: datetime) -> None:
        if moment < self._now:
            raise ValueError("this clock does not go backwards")
        self._now = moment
        async with self._moved:
            self._moved.notify_all()

    async def advance(self, by: timedelta) -> None:
        await self.set(self._now + by)

    async def sleep_until(self, moment: datetime) -> None:
        async with self._moved:
            await self._moved.wait_for(lambda: self._now >= moment)
