"""Which backups to keep: the newest of each of the last N days and of each of the last M ISO weeks.

Backups are named by the UTC time they were started (``2026-11-29T02-30-00Z``), so a name sorts by time
and days and weeks are counted in UTC. The newest backup is always kept, whatever the settings say: a
rotation never leaves a target without its latest backup.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

NAME_FORMAT = "%Y-%m-%dT%H-%M-%SZ"
ABANDONED_AFTER = timedelta(days=1)  # an unfinished backup this old has no live writer


def backup_name(started: datetime) -> str:
    """The name of a backup started at ``started`` (an aware datetime), in UTC to the second."""
    if started.tzinfo is None:
        raise ValueError("backup times are aware datetimes")
    return started.astimezone(UTC).strftime(NAME_FORMAT)


def backup_time(name: str) -> datetime | None:
    """When the backup called ``name`` was started; None for anything not named like a backup."""
    try:
        return datetime.strptime(name, NAME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class Rotation:
    keep: tuple[str, ...]  # newest first
    delete: tuple[str, ...]  # newest first


def rotate(names: Iterable[str], *, keep_daily: int, keep_weekly: int) -> Rotation:
    """Split complete backups into those to keep and those to delete.

    Kept: the newest backup of each of the ``keep_daily`` most recent days that have one, the newest of each
    of the ``keep_weekly`` most recent ISO weeks that have one, and the newest backup of all. Names that are
    not backup names are left out of both lists (they are not ours to delete).
    """
    if keep_daily < 0 or keep_weekly < 0:
        raise ValueError("keep_daily and keep_weekly count backups: 0 or more")
    dated = sorted(((t, n) for n in set(names) if (t := backup_time(n)) is not None), reverse=True)
    if not dated:
        return Rotation((), ())
    kept = {dated[0][1]}
    kept |= _newest_per_period(dated, lambda t: t.date(), keep_daily)
    kept |= _newest_per_period(dated, lambda t: t.isocalendar()[:2], keep_weekly)
    ordered = [name for _, name in dated]
    return Rotation(
        keep=tuple(n for n in ordered if n in kept),
        delete=tuple(n for n in ordered if n not in kept),
    )


def _newest_per_period(
    dated: list[tuple[datetime, str]], period: Callable[[datetime], Hashable], count: int
) -> set[str]:
    """The first (newest) name in each of the ``count`` newest periods of ``dated`` (sorted newest first)."""
    chosen: dict[Hashable, str] = {}
    for started, name in dated:
        key = period(started)
        if key not in chosen:
            if len(chosen) == count:
                break
            chosen[key] = name
    return set(chosen.values())


def abandoned(unfinished: Iterable[str], now: datetime) -> list[str]:
    """Unfinished backups (no backup.json) started more than a day ago: a crash left them, nobody finishes them."""
    return sorted(n for n in unfinished if (t := backup_time(n)) is not None and now - t > ABANDONED_AFTER)
