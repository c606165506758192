"""Days in a project's zone: its date, its midnight, and a range of days as instants."""

from __future__ import annotations

from datetime import UTC, date, datetime

from addax.domain.days import day_range, local_midnight, local_today, parse_day

LATE_EVENING_UTC = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # already the 30th in Berlin


def test_today_and_its_midnight_are_the_zones_not_utcs() -> None:
    assert local_today("Europe/Berlin", LATE_EVENING_UTC) == date(2026, 11, 30)
    assert local_today("UTC", LATE_EVENING_UTC) == date(2026, 11, 29)
    assert local_today("America/New_York", datetime(2026, 11, 30, 3, tzinfo=UTC)) == date(2026, 11, 29)
    assert local_midnight("Europe/Berlin", LATE_EVENING_UTC) == datetime(2026, 11, 29, 23, tzinfo=UTC)


def test_a_range_of_days_runs_from_local_midnight_to_local_midnight() -> None:
    since, until = day_range(date(2026, 3, 29), date(2026, 3, 29), "Europe/Berlin")  # the clocks go forward
    assert since == datetime(2026, 3, 28, 23, tzinfo=UTC) and until == datetime(2026, 3, 29, 22, tzinfo=UTC)


def test_a_day_is_read_or_ignored() -> None:
    assert parse_day("2026-05-01") == date(2026, 5, 1)
    assert parse_day("yesterday") is None and parse_day("") is None and parse_day(None) is None
