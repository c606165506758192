"""Which photos a project's retention rules delete: blanks, people and vehicles after N days; animals never.

A photo's labels are its summary (``images.labels``): the labels of boxes at or above the project's detection
threshold, or a person's when someone verified it. So a photo verified as an animal is kept whatever the model
said, and one verified blank counts as blank. A photo whose detection failed for good (``blur_all``) is not
known to be blank and is kept. Age counts from when Addax received the photo, so a backfilled SD card of last
year gets its full N days before anything goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


class RetentionError(ValueError):
    """A retention setting that cannot be (a retry will not help)."""


@dataclass(frozen=True, slots=True)
class RetentionRules:
    """Days to keep each kind of photo; None keeps it forever."""

    blank_days: int | None = None
    person_days: int | None = None
    vehicle_days: int | None = None

    def __post_init__(self) -> None:
        for name in ("blank_days", "person_days", "vehicle_days"):
            days = getattr(self, name)
            if days is not None and days < 1:
                raise RetentionError(f"retention {name.replace('_', ' ')} must be at least 1 (or unset: keep forever)")

    @property
    def any(self) -> bool:
        return any(days is not None for days in (self.blank_days, self.person_days, self.vehicle_days))

    @property
    def shortest_days(self) -> int | None:
        """No photo younger than this can go: where a query may start."""
        days = [days for days in (self.blank_days, self.person_days, self.vehicle_days) if days is not None]
        return min(days) if days else None


@dataclass(frozen=True, slots=True)
class PhotoFacts:
    labels: frozenset[str]  # the summary: 'animal', 'person', 'vehicle'
    received_at: datetime
    stage: str
    blur_all: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    delete: bool
    why: str


def decide(rules: RetentionRules, photo: PhotoFacts, now: datetime) -> Decision:
    """Delete or keep, and why (shown by the dry run and written to the audit log)."""
    if photo.stage != "done":
        return Decision(False, "not fully processed")
    if "animal" in photo.labels:
        return Decision(False, "animal: kept forever")
    if photo.blur_all:
        return Decision(False, "detection failed: not known to be blank")
    age = now - photo.received_at
    if not photo.labels:
        return _after(rules.blank_days, age, "blank")
    # A photo with a person and a vehicle goes only when both rules let it go.
    verdicts = [
        _after(days, age, label)
        for label, days in (("person", rules.person_days), ("vehicle", rules.vehicle_days))
        if label in photo.labels
    ]
    if not verdicts:
        return Decision(False, f"labels {sorted(photo.labels)}: no rule")
    kept = [verdict for verdict in verdicts if not verdict.delete]
    return kept[0] if kept else Decision(True, " and ".join(verdict.why for verdict in verdicts))


def _after(days: int | None, age: timedelta, kind: str) -> Decision:
    if days is None:
        return Decision(False, f"{kind}: kept forever")
    if age < timedelta(days=days):
        return Decision(False, f"{kind}: younger than {days} days")
    return Decision(True, f"{kind}, older than {days} days")
