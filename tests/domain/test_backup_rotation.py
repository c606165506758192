"""Which backups a rotation keeps: the newest per day for N days, per ISO week for M weeks, and always the newest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from addax.domain.backup_rotation import abandoned, backup_name, backup_time, rotate


def at(text: str) -> str:
    """The backup name of a UTC time written '2026-11-29 02:30'."""
    return backup_name(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC))


def test_names_are_utc_to_the_second_and_read_back() -> None:
    moment = datetime(2026, 11, 29, 3, 30, 5, 999, tzinfo=UTC)
    assert backup_name(moment) == "2026-11-29T03-30-05Z"
    assert backup_name(moment.astimezone(datetime.now().astimezone().tzinfo)) == "2026-11-29T03-30-05Z"
    assert backup_time("2026-11-29T03-30-05Z") == moment.replace(microsecond=0)
    for stray in ("objects", "2026-11-29", "2026-11-29T03-30-05", "2026-13-01T00-00-00Z", ""):
        assert backup_time(stray) is None
    with pytest.raises(ValueError, match="aware"):
        backup_name(datetime(2026, 1, 1))


def test_nightly_backups_over_two_months_keep_seven_days_and_four_weeks() -> None:
    start = datetime(2026, 10, 1, 2, 30, tzinfo=UTC)  # a Thursday
    nights = [backup_name(start + timedelta(days=n)) for n in range(60)]  # to Sunday 29 November
    plan = rotate(nights, keep_daily=7, keep_weekly=4)
    daily = [backup_name(start + timedelta(days=n)) for n in range(59, 52, -1)]  # 23 to 29 November
    # Newest of each ISO week: Sunday 29 Nov (week 48), Sunday 22, 15, 8 Nov (weeks 47, 46, 45).
    weekly = [at("2026-11-29 02:30"), at("2026-11-22 02:30"), at("2026-11-15 02:30"), at("2026-11-08 02:30")]
    assert set(plan.keep) == set(daily) | set(weekly)
    assert len(plan.keep) == 10
    assert list(plan.keep) == sorted(plan.keep, reverse=True), "newest first"
    assert set(plan.delete) == set(nights) - set(plan.keep)
    assert list(plan.delete) == sorted(plan.delete, reverse=True)


def test_several_backups_a_day_keep_the_newest_of_each_day() -> None:
    names = [at("2026-11-29 02:30"), at("2026-11-29 14:00"), at("2026-11-28 02:30"), at("2026-11-28 23:59")]
    plan = rotate(names, keep_daily=2, keep_weekly=0)
    assert plan.keep == (at("2026-11-29 14:00"), at("2026-11-28 23:59"))
    assert plan.delete == (at("2026-11-29 02:30"), at("2026-11-28 02:30"))


def test_days_without_a_backup_do_not_count() -> None:
    names = [at("2026-11-29 02:30"), at("2026-11-20 02:30"), at("2026-11-01 02:30")]
    assert rotate(names, keep_daily=2, keep_weekly=0).keep == (at("2026-11-29 02:30"), at("2026-11-20 02:30"))


def test_iso_weeks_start_on_monday_and_cross_the_new_year() -> None:
    # 2026-12-28 (Mon) .. 2027-01-03 (Sun) is ISO week 53 of 2026; 2027-01-04 (Mon) starts week 1 of 2027.
    names = [at("2026-12-27 02:30"), at("2026-12-28 02:30"), at("2027-01-03 02:30"), at("2027-01-04 02:30")]
    plan = rotate(names, keep_daily=0, keep_weekly=3)
    assert plan.keep == (at("2027-01-04 02:30"), at("2027-01-03 02:30"), at("2026-12-27 02:30"))
    assert plan.delete == (at("2026-12-28 02:30"),)


def test_days_and_weeks_are_utc_days_of_the_names() -> None:
    # 23:59 and 00:01 UTC are two days even where it is one local evening.
    names = [at("2026-11-28 23:59"), at("2026-11-29 00:01")]
    assert set(rotate(names, keep_daily=2, keep_weekly=0).keep) == set(names)


def test_the_newest_backup_is_kept_whatever_the_settings() -> None:
    names = [at("2026-11-29 02:30"), at("2026-11-28 02:30")]
    assert rotate(names, keep_daily=0, keep_weekly=0) == rotate(names, keep_daily=1, keep_weekly=0)
    assert rotate(names, keep_daily=0, keep_weekly=0).keep == (at("2026-11-29 02:30"),)


def test_other_names_are_neither_kept_nor_deleted_and_nothing_is_nothing() -> None:
    plan = rotate(["objects", "notes.txt", at("2026-11-29 02:30"), at("2026-11-29 02:30")], keep_daily=1, keep_weekly=1)
    assert plan.keep == (at("2026-11-29 02:30"),) and plan.delete == ()
    assert rotate([], keep_daily=7, keep_weekly=4).keep == ()
    with pytest.raises(ValueError, match="0 or more"):
        rotate([], keep_daily=-1, keep_weekly=4)


def test_a_year_of_random_backups_keeps_exactly_the_periods_newest() -> None:
    import random

    chance = random.Random(12)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    names = sorted({backup_name(start + timedelta(minutes=chance.randrange(365 * 24 * 60))) for _ in range(900)})
    plan = rotate(names, keep_daily=10, keep_weekly=6)
    times = sorted((backup_time(name) for name in names), reverse=True)  # type: ignore[type-var]
    newest_of_day: dict[object, datetime] = {}
    newest_of_week: dict[object, datetime] = {}
    for moment in times:
        assert moment is not None
        newest_of_day.setdefault(moment.date(), moment)
        newest_of_week.setdefault(moment.isocalendar()[:2], moment)
    expected = set(sorted(newest_of_day.values(), reverse=True)[:10]) | set(
        sorted(newest_of_week.values(), reverse=True)[:6]
    )
    assert {backup_time(name) for name in plan.keep} == expected
    assert len(plan.keep) + len(plan.delete) == len(names)


def test_unfinished_backups_are_abandoned_after_a_day() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    unfinished = [at("2026-11-29 02:30"), at("2026-11-28 11:59"), at("2026-11-20 02:30"), "stray"]
    assert abandoned(unfinished, now) == [at("2026-11-20 02:30"), at("2026-11-28 11:59")]
