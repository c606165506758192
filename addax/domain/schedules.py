"""When scheduled alert jobs run next: daily checks, weekly and monthly reports, one-off reminders.

Users think in wall-clock time where the project is ("the digest at 07:00"), the scheduler in instants. Every
function takes and returns timezone-aware datetimes in UTC and resolves wall times in the project's zone:

- a wall time that does not exist (02:30 on the day clocks spring forward) runs at the first instant after it,
  the moment the clocks jump (03:00 local);
- a wall time that happens twice (02:30 on the day clocks fall back) runs once, at its first occurrence.

The scheduler relies on one rule: after a job runs, its next run is computed from *now*, never from its
previous due time. Runs missed while the server was down therefore collapse into one run when it comes
back (a week of downtime sends one digest, not seven), and a clock change never makes a job run twice.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the wall clock in ``tz`` shows ``at`` on ``day`` (see the module for DST)."""
    wall = datetime.combine(day, at)
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first, tz) == wall:
        return first  # it exists; fold=0 is the first of two occurrences
    # In a gap: fold=1 reads the wall time with the offset after the jump, fold=0 with the one before; the
    # jump lies between the two instants. Find it to the second.
    low, high = wall.replace(tzinfo=tz, fold=1).astimezone(UTC), first
    low, high = min(low, high), max(low, high)
    after_jump = high.astimezone(tz).utcoffset()
    lo_s, hi_s = 0, int((high - low).total_seconds())
    while lo_s < hi_s:
        mid = (lo_s + hi_s) // 2
        if (low + timedelta(seconds=mid)).astimezone(tz).utcoffset() == after_jump:
            hi_s = mid
        else:
            lo_s = mid + 1
    return low + timedelta(seconds=lo_s)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _aware(moment: datetime, name: str = "after") -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment}")


def next_daily(after: datetime, at: time, tz: ZoneInfo) -> datetime:
    """The first instant strictly after ``after`` whose wall time in ``tz`` is ``at``."""
    _aware(after)
    today = after.astimezone(tz).date()
    for offset in range(3):
        instant = local_instant(today + offset * ONE_DAY, at, tz)
        if instant > after:
            return instant
    raise AssertionError("a wall time recurs within two days")  # pragma: no cover


def next_weekly(after: datetime, at: time, tz: ZoneInfo, weekday: int = 0) -> datetime:
    """The first instant strictly after ``after`` that is ``at`` on a ``weekday`` (Monday 0) in ``tz``."""
    _aware(after)
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday runs 0 (Monday) to 6 (Sunday), got {weekday}")
    today = after.astimezone(tz).date()
    for offset in range(15):
        day = today + offset * ONE_DAY
        if day.weekday() == weekday:
            instant = local_instant(day, at, tz)
            if instant > after:
                return instant
    raise AssertionError("a weekday recurs within two weeks")  # pragma: no cover


def next_monthly(after: datetime, at: time, tz: ZoneInfo, day: int = 1) -> datetime:
    """The first instant strictly after ``after`` that is ``at`` on the ``day`` of a month in ``tz``.

    A day the month lacks is its last day: ``day=31`` runs on 30 April and 28 or 29 February.
    """
    _aware(after)
    if not 1 <= day <= 31:
        raise ValueError(f"day of the month runs 1 to 31, got {day}")
    today = after.astimezone(tz).date()
    for offset in range(3):
        year, month = divmod(today.year * 12 + today.month - 1 + offset, 12)
        month += 1
        last = calendar.monthrange(year, month)[1]
        instant = local_instant(date(year, month, min(day, last)), at, tz)
        if instant > after:
            return instant
    raise AssertionError("a day of the month recurs within two months")  # pragma: no cover


def next_every(after: datetime, every: timedelta) -> datetime:
    """The next run of a job that repeats every ``every`` (counted from now: see the module)."""
    _aware(after)
    if every <= timedelta(0):
        raise ValueError(f"an interval must be positive, got {every}")
    return (after + every).astimezone(UTC)


def next_on(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The one run of a reminder due at ``at`` on ``day`` in ``tz``."""
    return local_instant(day, at, tz)


PERIODS = ("daily", "weekly", "monthly")


def period_before(run_at: datetime, period: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The [start, end) window a report run at ``run_at`` covers, as UTC instants.

    It ends at the local midnight on or before ``run_at``: "daily" is the previous local day, "weekly" the
    previous Monday to Monday, "monthly" the previous calendar month. Local days are not always 24 h long,
    which is why the window is built from wall-clock midnights, not by subtracting days from an instant.
    """
    _aware(run_at, "run_at")
    today = run_at.astimezone(tz).date()
    if period == "daily":
        end = today
        start = end - ONE_DAY
    elif period == "weekly":
        end = today - today.weekday() * ONE_DAY
        start = end - 7 * ONE_DAY
    elif period == "monthly":
        end = today.replace(day=1)
        start = (end - ONE_DAY).replace(day=1)
    else:
        raise ValueError(f"unknown period {period!r}; one of {', '.join(PERIODS)}")
    return local_instant(start, time(0), tz), local_instant(end, time(0), tz)
