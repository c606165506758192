"""Where a camera stands: site grouping and deployment changes from GPS readings.

A reading within ``radius_m`` of a site joins it; one far reading is only held as a
*candidate*, and a second reading near that candidate confirms the move. The caller
(the ingestor) stores the resulting ``Placement`` and acts on the ``Decision``:

    placement ──decide(reading)──▶ Decision
                                    ├─ create_site_at  → insert site, use its id
                                    ├─ close/open dates → end old deployment, start new one,
                                    │                     move images dated >= open date
                                    ├─ placement        → store as the camera's new state
                                    └─ summary          → camera-updates feed
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

EARTH_RADIUS_M = 6_371_008.8
"""WGS84 mean radius (IUGG R1); a sphere is within 0.5 % of the ellipsoid, plenty at 250 m."""

DEFAULT_RADIUS_M = 250.0
"""Field GPS noise has a median of 9 m and a worst case of 215 m; 250 m stays above both."""

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Point:
    latitude: float
    longitude: float

    def __post_init__(self) -> None:
        if not (-90.0 <= self.latitude <= 90.0 and -180.0 <= self.longitude <= 180.0):
            raise ValueError(f"not a WGS84 position: {self.latitude}, {self.longitude}")

    def __str__(self) -> str:
        return f"{self.latitude:.5f}, {self.longitude:.5f}"


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    location: Point


@dataclass(frozen=True, slots=True)
class Placement:
    """A camera's known place; ``candidate`` is a far reading that no second one has confirmed yet."""

    location: Point | None = None
    site_id: int | None = None
    deployment_start: date | None = None
    candidate: Point | None = None
    candidate_since: date | None = None


@dataclass(frozen=True, slots=True)
class DeploymentSpan:
    id: int
    starts_on: date
    ends_on: date | None = None  # None: still running


class DecisionKind(StrEnum):
    FIRST_PLACEMENT = "first_placement"
    SAME_PLACE = "same_place"
    OUTLIER_HELD = "outlier_held"
    MOVED = "moved"
    NO_GPS = "no_gps"
    REPORT_IGNORED = "report_ignored"
    LATE_READING = "late_reading"
    MANUAL_PLACEMENT = "manual_placement"


@dataclass(frozen=True, slots=True)
class Decision:
    """What one reading means for a camera.

    ``site_id`` is the site the camera stands on afterwards; it is None when
    ``create_site_at`` asks for a new site, and then the caller also sets the new id into
    ``placement.site_id``. ``open_deployment_on`` is set only when a new deployment starts;
    ``close_deployment_on`` ends the previous one and may fall before that deployment's
    start (the camera moved on its first day), which leaves the old deployment empty.
    """

    kind: DecisionKind
    placement: Placement
    summary: str
    site_id: int | None = None
    create_site_at: Point | None = None
    close_deployment_on: date | None = None
    open_deployment_on: date | None = None


def distance_m(a: Point, b: Point) -> float:
    """Great-circle distance in metres (haversine, which stays exact for short distances)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat = lat2 - lat1
    dlon = math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def nearest_site(point: Point, sites: Sequence[Site], radius_m: float = DEFAULT_RADIUS_M) -> Site | None:
    """The closest site within ``radius_m`` of ``point``, or None."""
    best: Site | None = None
    best_m = radius_m
    for site in sites:
        d = distance_m(point, site.location)
        if d <= best_m:
            best, best_m = site, d
    return best


def deployment_for(deployments: Sequence[DeploymentSpan], taken_on: date) -> int | None:
    """The id of the deployment that an image taken on ``taken_on`` belongs to (both ends inclusive)."""
    matches = [d for d in deployments if d.starts_on <= taken_on and (d.ends_on is None or taken_on <= d.ends_on)]
    # Deployments should not overlap; if they do, the most recent one is the better guess.
    return max(matches, key=lambda d: d.starts_on).id if matches else None


def decide(
    placement: Placement,
    reading: Point | None,
    taken_on: date,
    *,
    from_status_report: bool,
    sites: Sequence[Site],
    radius_m: float = DEFAULT_RADIUS_M,
) -> Decision:
    """Decide what a GPS ``reading`` from a file dated ``taken_on`` does to a camera's placement."""
    if radius_m <= 0:
        raise ValueError(f"radius must be positive, got {radius_m}")
    if from_status_report:
        # Reports are sent from wherever the camera happens to be switched on (often the office).
        return _unchanged(DecisionKind.REPORT_IGNORED, placement, "GPS from a status report; never moves a camera")
    if reading is None:
        return _unchanged(DecisionKind.NO_GPS, placement, "no GPS reading; placement unchanged")
    if placement.location is None:
        return _first_placement(reading, taken_on, sites, radius_m)
    if placement.deployment_start is not None and taken_on < placement.deployment_start:
        # A late upload from before the current deployment says nothing about where the camera is now;
        # two such files could otherwise move the camera back to where it was.
        why = f"reading of {taken_on} predates the deployment of {placement.deployment_start}; ignored"
        return _unchanged(DecisionKind.LATE_READING, placement, why)
    away_m = distance_m(reading, placement.location)
    if away_m <= radius_m:
        return _same_place(placement, away_m)
    candidate, since = placement.candidate, placement.candidate_since
    if candidate is not None and since is not None and distance_m(reading, candidate) <= radius_m:
        # The camera stood at the new place from the first far reading on (or from this one, if it
        # was taken earlier and uploaded late).
        return _moved(placement.location, candidate, reading, min(since, taken_on), sites, radius_m)
    return _hold(placement, reading, taken_on, away_m)


def place_manually(placement: Placement, site: Site, on: date) -> Decision:
    """Put a camera (typically one without GPS) on ``site`` from ``on``, closing its current deployment."""
    closes = on - ONE_DAY if placement.deployment_start is not None else None
    return Decision(
        DecisionKind.MANUAL_PLACEMENT,
        Placement(location=site.location, site_id=site.id, deployment_start=on),
        f"placed on site {site.id} by hand from {on}",
        site_id=site.id,
        close_deployment_on=closes,
        open_deployment_on=on,
    )


def _unchanged(kind: DecisionKind, placement: Placement, summary: str) -> Decision:
    return Decision(kind, placement, summary, site_id=placement.site_id)


def _first_placement(reading: Point, taken_on: date, sites: Sequence[Site], radius_m: float) -> Decision:
    site = nearest_site(reading, sites, radius_m)
    placement = Placement(location=reading, site_id=site.id if site else None, deployment_start=taken_on)
    where = _where(reading, site, radius_m)
    return Decision(
        DecisionKind.FIRST_PLACEMENT,
        placement,
        f"first GPS fix; {where}",
        site_id=placement.site_id,
        create_site_at=None if site else reading,
        open_deployment_on=taken_on,
    )


def _same_place(placement: Placement, away_m: float) -> Decision:
    # The anchor stays where it was: averaging readings in would let noise creep it away over time.
    summary = f"GPS {_fmt(away_m)} from its place; camera stays"
    if placement.candidate is not None:
        summary += f"; the far reading of {placement.candidate_since} was an outlier"
    kept = Placement(placement.location, placement.site_id, placement.deployment_start)
    return Decision(DecisionKind.SAME_PLACE, kept, summary, site_id=placement.site_id)


def _hold(placement: Placement, reading: Point, taken_on: date, away_m: float) -> Decision:
    summary = f"GPS {_fmt(away_m)} from its place; held until a second reading confirms a move"
    if placement.candidate is not None:
        summary += f" (replaces the unconfirmed reading of {placement.candidate_since})"
    held = Placement(
        placement.location,
        placement.site_id,
        placement.deployment_start,
        candidate=reading,
        candidate_since=taken_on,
    )
    return Decision(DecisionKind.OUTLIER_HELD, held, summary, site_id=placement.site_id)


def _moved(
    old: Point, candidate: Point, reading: Point, since: date, sites: Sequence[Site], radius_m: float
) -> Decision:
    location = _midpoint(candidate, reading)  # two readings average out some of the noise
    site = nearest_site(location, sites, radius_m)
    moved = Placement(location=location, site_id=site.id if site else None, deployment_start=since)
    summary = (
        f"moved {_fmt(distance_m(old, location))}, confirmed by a second reading; "
        f"deployment closed on {since - ONE_DAY}, new one from {since}; {_where(location, site, radius_m)}"
    )
    return Decision(
        DecisionKind.MOVED,
        moved,
        summary,
        site_id=moved.site_id,
        create_site_at=None if site else location,
        close_deployment_on=since - ONE_DAY,
        open_deployment_on=since,
    )


def _midpoint(a: Point, b: Point) -> Point:
    # Halve the wrapped longitude difference so two points either side of ±180° stay together.
    dlon = (b.longitude - a.longitude + 180.0) % 360.0 - 180.0
    lon = (a.longitude + dlon / 2 + 180.0) % 360.0 - 180.0
    return Point((a.latitude + b.latitude) / 2, lon)


def _where(point: Point, site: Site | None, radius_m: float) -> str:
    if site is not None:
        return f"joined site {site.id} ({_fmt(distance_m(point, site.location))} away)"
    return f"no site within {_fmt(radius_m)}, new site at {point}"


def _fmt(metres: float) -> str:
    return f"{metres / 1000:.1f} km" if metres >= 1000 else f"{metres:.0f} m"
