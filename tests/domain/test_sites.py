"""Site grouping and camera moves, driven by GPS points offset in metres from a home position."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from datetime import date, timedelta

import pytest

from addax.domain.sites import (
    EARTH_RADIUS_M,
    Decision,
    DecisionKind,
    DeploymentSpan,
    Placement,
    Point,
    Site,
    decide,
    deployment_for,
    distance_m,
    nearest_site,
    place_manually,
)

HOME = Point(52.0907, 5.1214)
DAY0 = date(2024, 5, 1)
SITES = [Site(1, HOME), Site(2, Point(52.3676, 4.9041))]


def offset(p: Point, dx: float, dy: float) -> Point:
    """``p`` moved ``dx`` metres east and ``dy`` metres north (flat-earth, fine for a few km)."""
    dlat = math.degrees(dy / EARTH_RADIUS_M)
    dlon = math.degrees(dx / (EARTH_RADIUS_M * math.cos(math.radians(p.latitude))))
    return Point(p.latitude + dlat, p.longitude + dlon)


def jitter(rng: random.Random, p: Point, max_m: float) -> Point:
    angle, r = rng.uniform(0, 2 * math.pi), rng.uniform(0, max_m)
    return offset(p, r * math.cos(angle), r * math.sin(angle))


def at_home(start: date = DAY0) -> Placement:
    return Placement(location=HOME, site_id=1, deployment_start=start)


def step(placement: Placement, reading: Point | None, day: int, *, report: bool = False) -> Decision:
    return decide(placement, reading, DAY0 + timedelta(days=day), from_status_report=report, sites=SITES)


# --- distances and sites ---------------------------------------------------------------------------


def test_distance_amsterdam_utrecht() -> None:
    # Amsterdam Centraal–Utrecht Centraal: 35.28 km on the WGS84 ellipsoid (Vincenty's inverse formula).
    assert distance_m(Point(52.3791, 4.9003), Point(52.0894, 5.1101)) == pytest.approx(35_278, rel=0.01)


def test_distance_basics() -> None:
    assert distance_m(HOME, HOME) == 0
    assert distance_m(Point(0, 0), Point(1, 0)) == pytest.approx(111_195, rel=1e-4)
    assert distance_m(Point(0, 179.9995), Point(0, -179.9995)) == pytest.approx(111, abs=1)
    assert distance_m(Point(0, 0), Point(0, 180)) == pytest.approx(math.pi * EARTH_RADIUS_M)


def test_offset_helper_matches_distance() -> None:
    rng = random.Random(1)
    for _ in range(200):
        dx, dy = rng.uniform(-3000, 3000), rng.uniform(-3000, 3000)
        assert distance_m(HOME, offset(HOME, dx, dy)) == pytest.approx(math.hypot(dx, dy), rel=1e-3)


def test_point_rejects_impossible_coordinates() -> None:
    with pytest.raises(ValueError):
        Point(91, 0)
    with pytest.raises(ValueError):
        Point(0, -180.5)


def test_nearest_site_picks_closest_within_radius() -> None:
    sites = [Site(1, offset(HOME, 200, 0)), Site(2, offset(HOME, -100, 0)), Site(3, offset(HOME, 5000, 0))]
    assert nearest_site(HOME, sites, 250) == sites[1]
    assert nearest_site(offset(HOME, 0, 400), sites, 250) is None
    assert nearest_site(offset(HOME, 0, 400), sites, 500) == sites[1]
    assert nearest_site(HOME, [], 250) is None


# --- first placement -------------------------------------------------------------------------------


def test_first_reading_near_a_site_joins_it() -> None:
    d = step(Placement(), offset(HOME, 120, -80), 0)
    assert d.kind is DecisionKind.FIRST_PLACEMENT
    assert d.site_id == 1 and d.create_site_at is None
    assert d.placement.site_id == 1 and d.placement.deployment_start == DAY0
    assert d.open_deployment_on == DAY0 and d.close_deployment_on is None


def test_first_reading_far_from_all_sites_creates_one() -> None:
    reading = offset(HOME, 0, 10_000)
    d = step(Placement(), reading, 3)
    assert d.kind is DecisionKind.FIRST_PLACEMENT
    assert d.site_id is None and d.create_site_at == reading
    assert d.placement.location == reading and d.placement.site_id is None
    assert d.open_deployment_on == DAY0 + timedelta(days=3)


def test_configurable_radius() -> None:
    reading = offset(HOME, 400, 0)
    assert step(Placement(), reading, 0).create_site_at == reading
    wide = decide(Placement(), reading, DAY0, from_status_report=False, sites=SITES, radius_m=500)
    assert wide.site_id == 1
    with pytest.raises(ValueError):
        decide(Placement(), reading, DAY0, from_status_report=False, sites=SITES, radius_m=0)


# --- staying put -----------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_field_noise_never_moves_a_camera(seed: int) -> None:
    rng = random.Random(seed)
    placement = at_home()
    for day in range(20):
        d = step(placement, jitter(rng, HOME, 215), day)
        assert d.kind is DecisionKind.SAME_PLACE, d.summary
        assert d.open_deployment_on is None and d.close_deployment_on is None
        placement = d.placement
    assert placement == at_home()


def test_one_outlier_is_held_then_forgotten() -> None:
    rng = random.Random(7)
    held = step(at_home(), offset(HOME, 5000, 0), 1)
    assert held.kind is DecisionKind.OUTLIER_HELD
    assert held.placement.location == HOME and held.placement.site_id == 1
    assert held.placement.candidate_since == DAY0 + timedelta(days=1)
    assert held.open_deployment_on is None and held.close_deployment_on is None

    back = step(held.placement, jitter(rng, HOME, 50), 2)
    assert back.kind is DecisionKind.SAME_PLACE and "outlier" in back.summary
    assert back.placement == at_home()
    for day in range(3, 10):
        assert step(back.placement, jitter(rng, HOME, 215), day).kind is DecisionKind.SAME_PLACE


@pytest.mark.parametrize("seed", range(20))
def test_outliers_in_different_directions_never_move(seed: int) -> None:
    rng = random.Random(seed)
    placement = at_home()
    for day in range(10):
        angle = day * 2.4 + rng.uniform(-0.2, 0.2)  # consecutive outliers lie far apart from each other
        far = offset(HOME, 5000 * math.cos(angle), 5000 * math.sin(angle))
        d = step(placement, far, day)
        assert d.kind is DecisionKind.OUTLIER_HELD
        assert d.placement.location == HOME and d.placement.candidate == far
        placement = d.placement
    assert "replaces" in d.summary


# --- moving ----------------------------------------------------------------------------------------


def test_real_move_confirmed_by_second_reading() -> None:
    new_place = offset(HOME, 3000, 0)
    first = step(at_home(), offset(new_place, 20, 5), 10)
    assert first.kind is DecisionKind.OUTLIER_HELD

    second = step(first.placement, offset(new_place, -10, -15), 11)
    assert second.kind is DecisionKind.MOVED
    assert second.close_deployment_on == DAY0 + timedelta(days=9)
    assert second.open_deployment_on == DAY0 + timedelta(days=10)
    assert second.site_id is None and second.create_site_at is not None
    assert distance_m(second.create_site_at, new_place) < 30
    moved = second.placement
    assert moved.deployment_start == DAY0 + timedelta(days=10) and moved.candidate is None

    # Images between the two readings land in the new deployment, older ones stay in the old one.
    spans = [
        DeploymentSpan(1, DAY0, second.close_deployment_on),
        DeploymentSpan(2, second.open_deployment_on),
    ]
    assert deployment_for(spans, DAY0 + timedelta(days=9)) == 1
    assert deployment_for(spans, DAY0 + timedelta(days=10)) == 2

    # And the camera now stays at its new place through ordinary noise.
    rng = random.Random(3)
    placement = replace(moved, site_id=99)
    for day in range(12, 30):
        d = step(placement, jitter(rng, new_place, 200), day)
        assert d.kind is DecisionKind.SAME_PLACE and d.site_id == 99
        placement = d.placement


def test_move_onto_an_existing_site_joins_it() -> None:
    utrecht_to_amsterdam = SITES[1].location
    held = step(at_home(), offset(utrecht_to_amsterdam, 30, 0), 4)
    d = step(held.placement, offset(utrecht_to_amsterdam, -30, 40), 6)
    assert d.kind is DecisionKind.MOVED and d.site_id == 2 and d.create_site_at is None
    assert d.placement.site_id == 2


def test_confirmation_older_than_candidate_opens_on_its_own_date() -> None:
    far = offset(HOME, 3000, 0)
    held = step(at_home(), far, 8)
    d = step(held.placement, offset(far, 50, 0), 6)  # uploaded late, taken before the candidate
    assert d.kind is DecisionKind.MOVED
    assert d.open_deployment_on == DAY0 + timedelta(days=6)
    assert d.close_deployment_on == DAY0 + timedelta(days=5)


def test_move_on_first_day_leaves_old_deployment_empty() -> None:
    far = offset(HOME, 3000, 0)
    held = step(at_home(), far, 0)
    d = step(held.placement, far, 1)
    assert d.kind is DecisionKind.MOVED
    assert d.close_deployment_on is not None and d.close_deployment_on < DAY0
    assert deployment_for([DeploymentSpan(1, DAY0, d.close_deployment_on)], DAY0) is None


def test_late_reading_from_before_deployment_is_ignored() -> None:
    placement = at_home(start=DAY0 + timedelta(days=10))
    old_place = offset(HOME, 3000, 0)
    for day in (2, 3):
        d = step(placement, old_place, day)
        assert d.kind is DecisionKind.LATE_READING
        assert d.placement == placement


@pytest.mark.parametrize("seed", range(10))
def test_random_sequences_keep_placement_consistent(seed: int) -> None:
    rng = random.Random(seed)
    placement, moves = at_home(), 0
    for day in range(60):
        reading = jitter(rng, HOME if rng.random() < 0.7 else offset(HOME, 4000, 0), 215)
        d = step(placement, reading, day)
        moves += d.kind is DecisionKind.MOVED
        if d.kind is DecisionKind.MOVED:
            # A move needs the reading before it to be far too, and the new deployment follows the old.
            assert placement.candidate is not None
            assert d.open_deployment_on is not None and d.close_deployment_on is not None
            assert d.close_deployment_on + timedelta(days=1) == d.open_deployment_on
            assert placement.deployment_start is not None
            assert d.open_deployment_on > placement.deployment_start
        else:
            assert d.open_deployment_on is None and d.placement.location == placement.location
        placement = d.placement
    assert moves >= 1


# --- readings that never move ----------------------------------------------------------------------


def test_status_reports_never_move_a_camera() -> None:
    far = offset(HOME, 3000, 0)
    placement = at_home()
    for day in range(5):
        d = step(placement, far, day, report=True)
        assert d.kind is DecisionKind.REPORT_IGNORED
        assert d.placement == placement and d.open_deployment_on is None
    assert step(Placement(), far, 0, report=True).placement == Placement()


def test_status_report_does_not_confirm_a_candidate() -> None:
    far = offset(HOME, 3000, 0)
    held = step(at_home(), far, 1)
    assert step(held.placement, far, 2, report=True).kind is DecisionKind.REPORT_IGNORED


def test_no_gps_changes_nothing() -> None:
    held = step(at_home(), offset(HOME, 3000, 0), 1).placement
    for placement in (Placement(), at_home(), held):
        d = step(placement, None, 2)
        assert d.kind is DecisionKind.NO_GPS and d.placement == placement
        assert d.open_deployment_on is None and d.create_site_at is None


def test_manual_placement() -> None:
    d = place_manually(Placement(), SITES[1], DAY0)
    assert d.kind is DecisionKind.MANUAL_PLACEMENT and d.site_id == 2
    assert d.placement == Placement(SITES[1].location, 2, DAY0)
    assert d.open_deployment_on == DAY0 and d.close_deployment_on is None

    again = place_manually(d.placement, SITES[0], DAY0 + timedelta(days=30))
    assert again.close_deployment_on == DAY0 + timedelta(days=29)
    assert step(again.placement, offset(HOME, 100, 0), 31).kind is DecisionKind.SAME_PLACE


def test_every_decision_has_a_summary() -> None:
    held = step(at_home(), offset(HOME, 3000, 0), 1)
    decisions = [
        step(Placement(), HOME, 0),
        step(at_home(), HOME, 0),
        held,
        step(held.placement, offset(HOME, 3000, 10), 2),
        step(at_home(), None, 0),
        step(at_home(), HOME, 0, report=True),
        step(at_home(DAY0 + timedelta(days=5)), HOME, 0),
        place_manually(Placement(), SITES[0], DAY0),
    ]
    assert {d.kind for d in decisions} == set(DecisionKind)
    assert all(d.summary for d in decisions)


# --- deployment_for --------------------------------------------------------------------------------


def test_deployment_for_boundaries() -> None:
    spans = [
        DeploymentSpan(1, date(2024, 3, 1), date(2024, 4, 9)),
        DeploymentSpan(2, date(2024, 4, 10)),
    ]
    assert deployment_for(spans, date(2024, 2, 29)) is None
    assert deployment_for(spans, date(2024, 3, 1)) == 1
    assert deployment_for(spans, date(2024, 4, 9)) == 1  # the close day itself
    assert deployment_for(spans, date(2024, 4, 10)) == 2
    assert deployment_for(spans, date(2030, 1, 1)) == 2  # open-ended
    assert deployment_for([], date(2024, 4, 10)) is None


def test_deployment_for_gap_between_deployments() -> None:
    spans = [DeploymentSpan(1, date(2024, 3, 1), date(2024, 3, 31)), DeploymentSpan(2, date(2024, 5, 1))]
    assert deployment_for(spans, date(2024, 4, 15)) is None
