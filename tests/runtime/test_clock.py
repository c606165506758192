"""Clocks: a sleeper on the manual clock wakes when the test moves it past its time, not before."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from addax.runtime.clock import ManualClock, SystemClock

START = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_sleeper_wakes_when_the_manual_clock_passes_its_time() -> None:
    clock = ManualClock(START)
    sleeper = asyncio.ensure_future(clock.sleep_until(START + timedelta(hours=1)))
    await clock.advance(timedelta(minutes=59))
    await asyncio.sleep(0)  # the sleeper had its chance to look
    assert not sleeper.done()
    await clock.advance(timedelta(minutes=1))
    await asyncio.wait_for(sleeper, 5)
    assert clock.now() == START + timedelta(hours=1)


async def test_a_time_already_passed_does_not_sleep() -> None:
    clock = ManualClock(START)
    await asyncio.wait_for(clock.sleep_until(START - timedelta(days=1)), 5)
    await asyncio.wait_for(SystemClock().sleep_until(datetime.now(UTC) - timedelta(seconds=1)), 5)


async def test_the_manual_clock_needs_a_zone_and_never_goes_back() -> None:
    with pytest.raises(ValueError, match="timezone"):
        ManualClock(datetime(2026, 1, 1))
    clock = ManualClock(START)
    with pytest.raises(ValueError, match="backwards"):
        await clock.set(START - timedelta(seconds=1))


def test_the_system_clock_is_utc_now() -> None:
    assert abs(SystemClock().now() - datetime.now(UTC)) < timedelta(seconds=5)
