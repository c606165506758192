"""Next runs and report windows in wall-clock time, across DST in Berlin and New York and across month ends.

Berlin 2024: clocks spring forward on 31 March at 02:00 CET (01:00 UTC) and fall back on 27 October at
03:00 CEST (01:00 UTC). New York 2024: forward on 10 March at 02:00 EST (07:00 UTC), back on 3 November at
02:00 EDT (06:00 UTC).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from addax.domain.schedules import (
    local_instant,
    next_daily,
    next_every,
    next_monthly,
    next_on,
    next_weekly,
    period_before,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[arg-type, misc]


# --- daily ---------------------------------------------------------------------------------------------


def test_next_daily_is_strictly_after() -> None:
    seven = time(7, 0)  # 05:00 UTC in summer
    assert next_daily(utc(2024, 6, 1, 4, 59), seven, BERLIN) == utc(2024, 6, 1, 5, 0)
    assert next_daily(utc(2024, 6, 1, 5, 0), seven, BERLIN) == utc(2024, 6, 2, 5, 0)
    assert next_daily(utc(2024, 6, 1, 23, 0), seven, BERLIN) == utc(2024, 6, 2, 5, 0)


def test_next_daily_returns_utc_for_any_aware_input() -> None:
    after = datetime(2024, 6, 1, 8, 0, tzinfo=BERLIN)  # 06:00 UTC, after today's run
    got = next_daily(after, time(7, 0), BERLIN)
    assert got == utc(2024, 6, 2, 5, 0)
    assert got.tzinfo is UTC


def test_next_daily_near_local_midnight() -> None:
    # 23:30 UTC on 1 June is already 01:30 on 2 June in Berlin.
    assert next_daily(utc(2024, 6, 1, 23, 30), time(1, 0), BERLIN) == utc(2024, 6, 2, 23, 0)
    assert next_daily(utc(2024, 6, 1, 23, 30), time(2, 0), BERLIN) == utc(2024, 6, 2, 0, 0)


def test_next_daily_rejects_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_daily(datetime(2024, 6, 1, 12), time(7, 0), BERLIN)


def test_daily_keeps_its_wall_time_across_spring_forward() -> None:
    assert next_daily(utc(2024, 3, 30, 6, 0), time(7, 0), BERLIN) == utc(2024, 3, 31, 5, 0)  # 23 h later
    assert next_daily(utc(2024, 3, 9, 13, 0), time(8, 0), NEW_YORK) == utc(2024, 3, 10, 12, 0)


def test_daily_keeps_its_wall_time_across_fall_back() -> None:
    assert next_daily(utc(2024, 10, 26, 5, 0), time(7, 0), BERLIN) == utc(2024, 10, 27, 6, 0)  # 25 h later
    assert next_daily(utc(2024, 11, 2, 12, 0), time(8, 0), NEW_YORK) == utc(2024, 11, 3, 13, 0)


def test_a_wall_time_that_does_not_exist_runs_when_the_clocks_jump() -> None:
    # 02:30 does not exist in Berlin on 31 March 2024: the run is at 03:00 CEST, the first instant after it.
    first = next_daily(utc(2024, 3, 30, 12, 0), time(2, 30), BERLIN)
    assert first == utc(2024, 3, 31, 1, 0)
    assert first.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    assert next_daily(first, time(2, 30), BERLIN) == utc(2024, 4, 1, 0, 30)
    assert next_daily(utc(2024, 3, 9, 12, 0), time(2, 30), NEW_YORK) == utc(2024, 3, 10, 7, 0)
    assert next_daily(utc(2024, 3, 9, 12, 0), time(2, 0), NEW_YORK) == utc(2024, 3, 10, 7, 0)


def test_a_wall_time_that_happens_twice_runs_once_at_its_first_occurrence() -> None:
    first = next_daily(utc(2024, 10, 26, 12, 0), time(2, 30), BERLIN)
    assert first == utc(2024, 10, 27, 0, 30)  # 02:30 CEST
    assert next_daily(first, time(2, 30), BERLIN) == utc(2024, 10, 28, 1, 30)  # not 01:30 UTC, 02:30 CET again
    assert next_daily(utc(2024, 10, 27, 1, 0), time(2, 30), BERLIN) == utc(2024, 10, 28, 1, 30)
    ny_first = next_daily(utc(2024, 11, 2, 12, 0), time(1, 30), NEW_YORK)
    assert ny_first == utc(2024, 11, 3, 5, 30)  # 01:30 EDT
    assert next_daily(ny_first, time(1, 30), NEW_YORK) == utc(2024, 11, 4, 6, 30)


def test_runs_over_a_year_keep_their_wall_time_and_never_repeat() -> None:
    for tz, at in ((BERLIN, time(2, 30)), (NEW_YORK, time(1, 30)), (NEW_YORK, time(7, 0))):
        moment, days = utc(2024, 1, 1), set()
        for _ in range(366):
            moment = next_daily(moment, at, tz)
            local = moment.astimezone(tz)
            assert local.date() not in days
            days.add(local.date())
            assert local.time() == at or local.date() in (date(2024, 3, 31), date(2024, 3, 10))
        assert len(days) == 366


# --- weekly, monthly, every, once ------------------------------------------------------------------------


def test_next_weekly() -> None:
    wednesday = utc(2024, 6, 5, 10, 0)
    assert next_weekly(wednesday, time(7, 0), BERLIN) == utc(2024, 6, 10, 5, 0)  # Monday
    assert next_weekly(wednesday, time(7, 0), BERLIN, weekday=2) == utc(2024, 6, 12, 5, 0)  # today's has passed
    assert next_weekly(wednesday, time(13, 0), BERLIN, weekday=2) == utc(2024, 6, 5, 11, 0)  # today's is ahead
    assert next_weekly(wednesday, time(7, 0), BERLIN, weekday=6) == utc(2024, 6, 9, 5, 0)  # Sunday


def test_weekly_across_spring_forward() -> None:
    monday = utc(2024, 3, 25, 6, 0)  # 07:00 CET
    assert next_weekly(monday, time(7, 0), BERLIN) == utc(2024, 4, 1, 5, 0)  # 07:00 CEST


def test_weekly_rejects_a_bad_weekday() -> None:
    with pytest.raises(ValueError):
        next_weekly(utc(2024, 6, 5), time(7, 0), BERLIN, weekday=7)


def test_next_monthly_on_the_first() -> None:
    assert next_monthly(utc(2024, 12, 15), time(7, 0), BERLIN) == utc(2025, 1, 1, 6, 0)
    assert next_monthly(utc(2024, 12, 1, 5, 59), time(7, 0), BERLIN) == utc(2024, 12, 1, 6, 0)
    assert next_monthly(utc(2024, 12, 1, 6, 0), time(7, 0), BERLIN) == utc(2025, 1, 1, 6, 0)


def test_monthly_day_31_is_clamped_to_short_months() -> None:
    after_january = next_monthly(utc(2025, 1, 31, 12, 0), time(7, 0), BERLIN, day=31)
    assert after_january == utc(2025, 2, 28, 6, 0)
    assert next_monthly(after_january, time(7, 0), BERLIN, day=31) == utc(2025, 3, 31, 5, 0)  # CEST by then
    assert next_monthly(utc(2024, 1, 31, 12, 0), time(7, 0), BERLIN, day=31) == utc(2024, 2, 29, 6, 0)
    assert next_monthly(utc(2024, 3, 31, 12, 0), time(7, 0), BERLIN, day=31) == utc(2024, 4, 30, 5, 0)
    assert next_monthly(utc(2024, 2, 1), time(7, 0), BERLIN, day=30) == utc(2024, 2, 29, 6, 0)


def test_monthly_rejects_a_bad_day() -> None:
    for day in (0, 32):
        with pytest.raises(ValueError):
            next_monthly(utc(2024, 6, 5), time(7, 0), BERLIN, day=day)


def test_next_every() -> None:
    assert next_every(utc(2024, 3, 31, 0, 30), timedelta(hours=1)) == utc(2024, 3, 31, 1, 30)
    assert next_every(datetime(2024, 6, 1, 12, tzinfo=BERLIN), timedelta(minutes=5)) == utc(2024, 6, 1, 10, 5)
    with pytest.raises(ValueError):
        next_every(utc(2024, 1, 1), timedelta(0))


def test_next_on() -> None:
    assert next_on(date(2025, 6, 1), time(8, 0), BERLIN) == utc(2025, 6, 1, 6, 0)
    assert next_on(date(2025, 1, 15), time(8, 0), NEW_YORK) == utc(2025, 1, 15, 13, 0)
    assert next_on(date(2025, 3, 30), time(2, 30), BERLIN) == utc(2025, 3, 30, 1, 0)


def test_local_instant_in_a_zone_that_skipped_a_whole_day() -> None:
    # Samoa jumped from 29 to 31 December 2011: the whole of the 30th does not exist.
    apia = ZoneInfo("Pacific/Apia")
    assert local_instant(date(2011, 12, 30), time(12, 0), apia) == utc(2011, 12, 30, 10, 0)
    assert local_instant(date(2011, 12, 30), time(12, 0), apia).astimezone(apia) == datetime(
        2011, 12, 31, 0, 0, tzinfo=apia
    )


# --- missed runs collapse ------------------------------------------------------------------------------


def run_scheduler(due: datetime, wake_ups: list[datetime], following: Callable[[datetime], datetime]) -> list[datetime]:
    """What the scheduler does: at each wake-up, run a job that is due, then compute its next run from now."""
    runs = []
    for now in wake_ups:
        if due <= now:
            runs.append(now)
            due = following(now)
    return runs


def test_missed_runs_collapse_into_one() -> None:
    def daily(now: datetime) -> datetime:
        return next_daily(now, time(7, 0), BERLIN)

    # Down from Saturday 1 June 2024 to Saturday the 8th at noon: seven digests were missed, one is sent.
    due = daily(utc(2024, 5, 31, 12, 0))
    assert due == utc(2024, 6, 1, 5, 0)
    wake_ups = [utc(2024, 5, 31, 23, 0), utc(2024, 6, 8, 12, 0), utc(2024, 6, 8, 18, 0), utc(2024, 6, 9, 5, 0)]
    assert run_scheduler(due, wake_ups, daily) == [utc(2024, 6, 8, 12, 0), utc(2024, 6, 9, 5, 0)]


def test_missed_intervals_collapse_into_one() -> None:
    def hourly(now: datetime) -> datetime:
        return next_every(now, timedelta(hours=1))

    wake_ups = [utc(2024, 6, 1, 0, 0), utc(2024, 6, 1, 5, 17), utc(2024, 6, 1, 5, 30), utc(2024, 6, 1, 6, 17)]
    assert run_scheduler(utc(2024, 6, 1, 0, 0), wake_ups, hourly) == [wake_ups[0], wake_ups[1], wake_ups[3]]


# --- report windows ------------------------------------------------------------------------------------


def test_daily_window_is_the_previous_local_day() -> None:
    assert period_before(utc(2024, 6, 10, 5, 0), "daily", BERLIN) == (utc(2024, 6, 8, 22, 0), utc(2024, 6, 9, 22, 0))
    at_midnight = utc(2024, 6, 9, 22, 0)  # 00:00 on the 10th in Berlin
    assert period_before(at_midnight, "daily", BERLIN) == (utc(2024, 6, 8, 22, 0), utc(2024, 6, 9, 22, 0))


def test_daily_window_over_dst_is_23_or_25_hours() -> None:
    start, end = period_before(utc(2024, 4, 1, 5, 0), "daily", BERLIN)
    assert (start, end) == (utc(2024, 3, 30, 23, 0), utc(2024, 3, 31, 22, 0))
    assert end - start == timedelta(hours=23)
    start, end = period_before(utc(2024, 11, 4, 12, 0), "daily", NEW_YORK)
    assert (start, end) == (utc(2024, 11, 3, 4, 0), utc(2024, 11, 4, 5, 0))
    assert end - start == timedelta(hours=25)


def test_weekly_window_is_the_previous_monday_to_monday() -> None:
    expected = (utc(2024, 6, 2, 22, 0), utc(2024, 6, 9, 22, 0))  # Mon 3 June 00:00 to Mon 10 June 00:00 Berlin
    assert period_before(utc(2024, 6, 10, 5, 0), "weekly", BERLIN) == expected
    assert period_before(utc(2024, 6, 12, 5, 0), "weekly", BERLIN) == expected  # run late, on a Wednesday


def test_weekly_window_over_dst() -> None:
    start, end = period_before(utc(2024, 4, 1, 5, 0), "weekly", BERLIN)
    assert (start, end) == (utc(2024, 3, 24, 23, 0), utc(2024, 3, 31, 22, 0))
    assert end - start == timedelta(days=7, hours=-1)


def test_monthly_window_is_the_previous_calendar_month() -> None:
    assert period_before(utc(2024, 3, 1, 6, 0), "monthly", BERLIN) == (utc(2024, 1, 31, 23, 0), utc(2024, 2, 29, 23, 0))
    assert period_before(utc(2024, 4, 1, 5, 0), "monthly", BERLIN) == (utc(2024, 2, 29, 23, 0), utc(2024, 3, 31, 22, 0))
    assert period_before(utc(2025, 1, 1, 6, 0), "monthly", BERLIN) == (
        utc(2024, 11, 30, 23, 0),
        utc(2024, 12, 31, 23, 0),
    )
    assert period_before(utc(2024, 12, 1, 12, 0), "monthly", NEW_YORK) == (
        utc(2024, 11, 1, 4, 0),
        utc(2024, 12, 1, 5, 0),
    )


def test_period_before_rejects_unknown_periods_and_naive_times() -> None:
    with pytest.raises(ValueError, match="unknown period"):
        period_before(utc(2024, 6, 1), "yearly", BERLIN)
    with pytest.raises(ValueError, match="timezone-aware"):
        period_before(datetime(2024, 6, 1), "daily", BERLIN)
