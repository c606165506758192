"""The species report: which species the cameras saw in a period, as the field counts them.

Ecologists compare sites and periods by *independent detections per 100 trap days*: a deer that stands in
front of a camera for an hour is one detection, not forty photos, and ten cameras out for a week are seventy
trap days. Two events of one species at one camera are independent when the later one starts at least
``independence_min`` minutes (30 by convention) after the last one counted; the events in between belong to
the counted one (its *bout*), whose group size is the largest count seen in the bout.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

ONE_DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class ActiveSpan:
    """A deployment: a camera out in the field from ``start`` until ``end`` (None: still out)."""

    camera_id: int
    start: datetime
    end: datetime | None


def trap_days(spans: Sequence[ActiveSpan], window_start: datetime, window_end: datetime) -> float:
    """Camera-days inside the window, fractional; overlapping spans of one camera count once."""
    by_camera: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for span in spans:
        start = max(span.start, window_start)
        end = min(span.end if span.end is not None else window_end, window_end)
        if end > start:
            by_camera[span.camera_id].append((start, end))
    seconds = 0.0
    for pieces in by_camera.values():
        pieces.sort()
        current_start, current_end = pieces[0]
        for start, end in pieces[1:]:
            if start > current_end:
                seconds += (current_end - current_start).total_seconds()
                current_start, current_end = start, end
            else:
                current_end = max(current_end, end)
        seconds += (current_end - current_start).total_seconds()
    return seconds / ONE_DAY_S


@dataclass(frozen=True, slots=True)
class SpeciesEvent:
    taxon: str
    common_name: str | None
    camera_id: int
    started_at: datetime
    count: int
    image_id: int | None
    score: float


@dataclass(frozen=True, slots=True)
class SpeciesRow:
    taxon: str
    common_name: str | None
    events: int  # all events
    independent: int  # independent detections
    individuals: int  # the sum of each independent detection's group size
    per_100_trap_days: float  # independent detections per 100 trap days (0 without trap days)
    best_image_id: int | None  # the image of the highest-scoring event that has one
    best_score: float


def species_rows(events: Sequence[SpeciesEvent], trap_days: float, independence_min: int = 30) -> list[SpeciesRow]:
    """One row per taxon, the most independently detected first (then by taxon)."""
    by_taxon: dict[str, list[SpeciesEvent]] = defaultdict(list)
    for event in events:
        by_taxon[event.taxon].append(event)
    rows = [_row(taxon, found, trap_days, timedelta(minutes=independence_min)) for taxon, found in by_taxon.items()]
    rows.sort(key=lambda row: (-row.independent, row.taxon))
    return rows


def _row(taxon: str, events: list[SpeciesEvent], trap_days: float, interval: timedelta) -> SpeciesRow:
    bouts = _bouts(events, interval)
    independent = len(bouts)
    with_image = [event for event in events if event.image_id is not None]
    best = max(with_image, key=lambda event: event.score) if with_image else None
    return SpeciesRow(
        taxon=taxon,
        common_name=next((event.common_name for event in events if event.common_name), None),
        events=len(events),
        independent=independent,
        individuals=sum(bouts),
        per_100_trap_days=independent / trap_days * 100 if trap_days > 0 else 0.0,
        best_image_id=best.image_id if best else None,
        best_score=max(event.score for event in events),
    )


def _bouts(events: list[SpeciesEvent], interval: timedelta) -> list[int]:
    """The group size of each independent detection of one species, per camera in time order."""
    by_camera: dict[int, list[SpeciesEvent]] = defaultdict(list)
    for event in events:
        by_camera[event.camera_id].append(event)
    sizes: list[int] = []
    for found in by_camera.values():
        found.sort(key=lambda event: event.started_at)
        counted_at: datetime | None = None
        for event in found:
            if counted_at is None or event.started_at - counted_at >= interval:
                counted_at = event.started_at
                sizes.append(event.count)
            else:
                sizes[-1] = max(sizes[-1], event.count)
    return sizes
