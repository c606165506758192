"""Sequences: the photos of one camera less than a project's gap apart are one event, labelled by its best evidence.

A camera trap fires bursts; users and alerts think in events ("a wolf passed at 02:14"), and reports count
independent events, not photos. An event's evidence is the best box of any of its photos above the project's
threshold: a named species beats a bare label, then the higher score wins; its count is the most boxes of
that label in one photo (a group of three deer in one frame, not three photos of one deer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Evidence:
    label: str  # animal | person | vehicle
    score: float
    taxon: str | None = None
    common_name: str | None = None
    count: int = 1


@dataclass(frozen=True, slots=True)
class Span:
    started_at: datetime
    ended_at: datetime


def joins(span: Span, taken_at: datetime, gap_s: int) -> bool:
    """Whether a photo taken at ``taken_at`` belongs to the event spanning ``span``."""
    gap = timedelta(seconds=gap_s)
    return span.started_at - gap <= taken_at <= span.ended_at + gap


def widened(span: Span, taken_at: datetime) -> Span:
    return Span(min(span.started_at, taken_at), max(span.ended_at, taken_at))


@dataclass(frozen=True, slots=True)
class BoxSeen:
    label: str
    score: float
    taxon: str | None = None
    common_name: str | None = None


def photo_evidence(boxes: Sequence[BoxSeen], threshold: float) -> Evidence | None:
    """The best evidence of one photo, or None when no box reaches the threshold."""
    counted = [box for box in boxes if box.score >= threshold]
    if not counted:
        return None
    best = max(counted, key=lambda box: (box.taxon is not None, box.score))
    count = sum(1 for box in counted if box.label == best.label and box.taxon == best.taxon)
    return Evidence(best.label, best.score, best.taxon, best.common_name, count)


def better(current: Evidence | None, new: Evidence | None) -> Evidence | None:
    """The event's evidence after one more photo."""
    if current is None or new is None:
        return current or new
    if (new.taxon is not None, new.score) > (current.taxon is not None, current.score):
        winner = new
    else:
        winner = current
    same = new.label == current.label and new.taxon == current.taxon
    count = max(current.count, new.count) if same else winner.count
    return Evidence(winner.label, winner.score, winner.taxon, winner.common_name, count)
