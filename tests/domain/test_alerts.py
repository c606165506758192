"""Alert decisions: detection matching, cooldown and rarity, camera health, projects, theft watch, the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from addax.domain.alerts import (
    DISK_LEVELS,
    SENSITIVITY,
    ActorSnapshot,
    CameraHealthRule,
    CameraState,
    DetectionRule,
    Match,
    SeenBox,
    Sighting,
    TheftWatchRule,
    Transition,
    Zone,
    admin_problems,
    busy_cameras,
    cooling_down,
    disk_level,
    health_problems,
    match_detection,
    miss_reason,
    project_silence,
    rare_enough,
    silent_against_rhythm,
    transition,
    unusual_person,
    usual_gap,
)
from addax.domain.alerts import duration as spoken
from addax.domain.alerts import in_polygon as inside

NOON = datetime(2025, 6, 1, 12, 0)
NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)
ROE = SeenBox("animal", 0.9, (0.1, 0.1, 0.2, 0.2), "Capreolus capreolus", "roe deer")
FOX = SeenBox("animal", 0.7, (0.5, 0.1, 0.1, 0.1), "Vulpes vulpes", "red fox")
BARE = SeenBox("animal", 0.95, (0.3, 0.3, 0.1, 0.1))
PERSON = SeenBox("person", 0.8, (0.4, 0.2, 0.1, 0.5))
CAR = SeenBox("vehicle", 0.6, (0.0, 0.0, 0.5, 0.5))
LOWER_HALF = ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))


def photo(*boxes: SeenBox, camera: int = 7, site: int | None = 3, at: datetime = NOON) -> Sighting:
    return Sighting(camera, site, at, boxes)


def box_with_feet_at(x: float, y: float, label: str = "person") -> SeenBox:
    """A 0.1 × 0.2 box whose bottom-centre is (x, y)."""
    return SeenBox(label, 0.9, (x - 0.05, y - 0.2, 0.1, 0.2))


# --- detection: labels, scores, species ------------------------------------------------------------------


def test_an_empty_rule_matches_everything_above_the_default_score() -> None:
    weak = SeenBox("animal", 0.49, (0, 0, 0.1, 0.1))
    assert match_detection(DetectionRule(), photo(CAR, weak)) == Match((CAR,), CAR)
    assert match_detection(DetectionRule(), photo(weak)) is None
    assert match_detection(DetectionRule(), photo()) is None


def test_labels() -> None:
    rule = DetectionRule(labels=frozenset({"person", "vehicle"}))
    assert match_detection(rule, photo(ROE, PERSON, CAR)) == Match((PERSON, CAR), PERSON)
    assert match_detection(rule, photo(ROE, FOX)) is None


def test_min_score_is_inclusive() -> None:
    rule = DetectionRule(min_score=0.8)
    assert match_detection(rule, photo(PERSON)) == Match((PERSON,), PERSON)
    assert match_detection(rule, photo(FOX, CAR)) is None


def test_best_box_a_species_beats_a_higher_bare_score() -> None:
    match = match_detection(DetectionRule(), photo(PERSON, BARE, FOX, ROE))
    assert match is not None
    assert match.boxes == (ROE, FOX, BARE, PERSON)
    assert match.best == ROE


def test_species_any_deer() -> None:
    rule = DetectionRule(species=("any deer",))
    red_deer = SeenBox("animal", 0.6, (0, 0, 0.1, 0.1), "Cervus elaphus", "red deer")
    assert match_detection(rule, photo(FOX, red_deer, ROE)) == Match((ROE, red_deer), ROE)
    assert match_detection(rule, photo(FOX)) is None


def test_species_genus_and_family() -> None:
    assert match_detection(DetectionRule(species=("Vulpes",)), photo(ROE, FOX)) == Match((FOX,), FOX)
    assert match_detection(DetectionRule(species=("Canidae",)), photo(ROE, FOX)) == Match((FOX,), FOX)
    assert match_detection(DetectionRule(species=("Canis",)), photo(ROE, FOX)) is None


def test_species_rolled_up_classification_does_not_match_a_more_specific_wish() -> None:
    some_deer = SeenBox("animal", 0.9, (0, 0, 0.1, 0.1), "Cervidae", "deer")
    assert match_detection(DetectionRule(species=("deer",)), photo(some_deer)) is not None
    assert match_detection(DetectionRule(species=("Capreolus capreolus",)), photo(some_deer)) is None


def test_species_rule_ignores_unclassified_animals_and_unnamed_labels() -> None:
    rule = DetectionRule(species=("Mammalia",))
    assert match_detection(rule, photo(BARE, PERSON, CAR)) is None
    assert match_detection(rule, photo(BARE, PERSON, ROE)) == Match((ROE,), ROE)


def test_species_with_a_named_label_keeps_that_label() -> None:
    # "people or wolves"
    rule = DetectionRule(labels=frozenset({"person", "animal"}), species=("wolf",))
    wolf = SeenBox("animal", 0.7, (0, 0, 0.1, 0.1), "Canis lupus", "gray wolf")
    assert match_detection(rule, photo(ROE, PERSON, CAR)) == Match((PERSON,), PERSON)
    assert match_detection(rule, photo(ROE, wolf)) == Match((wolf,), wolf)
    assert match_detection(rule, photo(ROE, CAR)) is None


# --- detection: sites, zones, hours, groups --------------------------------------------------------------


def test_sites() -> None:
    rule = DetectionRule(sites=frozenset({3, 4}))
    assert match_detection(rule, photo(PERSON, site=4)) is not None
    assert match_detection(rule, photo(PERSON, site=5)) is None
    assert match_detection(rule, photo(PERSON, site=None)) is None
    assert match_detection(DetectionRule(), photo(PERSON, site=None)) is not None


def test_zone_counts_the_bottom_centre_point() -> None:
    rule = DetectionRule(zones=(Zone(7, LOWER_HALF),))
    # The box reaches into the lower half but its feet stand in the upper half: outside.
    tall = SeenBox("person", 0.9, (0.4, 0.1, 0.1, 0.35))  # feet at (0.45, 0.45)
    head_above_feet_below = SeenBox("person", 0.9, (0.4, 0.3, 0.1, 0.3))  # feet at (0.45, 0.6)
    assert match_detection(rule, photo(tall)) is None
    assert match_detection(rule, photo(head_above_feet_below)) == Match((head_above_feet_below,), head_above_feet_below)


def test_zone_a_box_touching_the_bottom_of_the_frame_is_inside() -> None:
    rule = DetectionRule(zones=(Zone(7, LOWER_HALF),))
    close = SeenBox("animal", 0.9, (0.2, 0.4, 0.5, 0.6), "Sus scrofa")  # feet at (0.45, 1.0), on the edge
    assert match_detection(rule, photo(close)) is not None


def test_zone_applies_only_to_its_camera() -> None:
    rule = DetectionRule(zones=(Zone(7, LOWER_HALF),))
    up_high = box_with_feet_at(0.5, 0.3)
    assert match_detection(rule, photo(up_high, camera=7)) is None
    assert match_detection(rule, photo(up_high, camera=8)) is not None


def test_zones_of_one_camera_are_alternatives() -> None:
    left = ((0.0, 0.0), (0.3, 0.0), (0.3, 1.0), (0.0, 1.0))
    right = ((0.7, 0.0), (1.0, 0.0), (1.0, 1.0), (0.7, 1.0))
    rule = DetectionRule(zones=(Zone(7, left), Zone(7, right)))
    assert match_detection(rule, photo(box_with_feet_at(0.1, 0.6))) is not None
    assert match_detection(rule, photo(box_with_feet_at(0.9, 0.6))) is not None
    assert match_detection(rule, photo(box_with_feet_at(0.5, 0.6))) is None


def test_point_in_a_concave_polygon() -> None:
    u_shape = ((0.0, 0.0), (0.3, 0.0), (0.3, 0.7), (0.7, 0.7), (0.7, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    assert inside((0.1, 0.5), u_shape)
    assert inside((0.5, 0.9), u_shape)
    assert not inside((0.5, 0.5), u_shape)  # in the notch
    assert inside((0.5, 0.7), u_shape)  # on the notch's floor
    assert inside((0.0, 0.0), u_shape)  # a vertex
    assert not inside((1.0001, 0.5), u_shape)


def test_point_in_a_triangle() -> None:
    triangle = ((0.5, 0.0), (1.0, 1.0), (0.0, 1.0))
    assert inside((0.5, 0.5), triangle)
    assert not inside((0.1, 0.5), triangle)
    assert not inside((0.9, 0.5), triangle)
    assert inside((0.25, 0.5), triangle)  # on the left edge


@pytest.mark.parametrize(
    ("hour", "fires"), [(19, False), (20, True), (23, True), (0, True), (5, True), (6, False), (12, False)]
)
def test_hours_wrapping_midnight(hour: int, fires: bool) -> None:
    rule = DetectionRule(hours=(20, 6))
    at = datetime(2025, 6, 1, hour, 59)
    assert (match_detection(rule, photo(PERSON, at=at)) is not None) is fires


@pytest.mark.parametrize(("hour", "fires"), [(7, False), (8, True), (16, True), (17, False)])
def test_hours_within_a_day(hour: int, fires: bool) -> None:
    rule = DetectionRule(hours=(8, 17))
    assert (match_detection(rule, photo(PERSON, at=datetime(2025, 6, 1, hour, 0))) is not None) is fires


def test_hours_to_midnight() -> None:
    for end in (0, 24):
        rule = DetectionRule(hours=(22, end))
        assert match_detection(rule, photo(PERSON, at=datetime(2025, 6, 1, 23, 30))) is not None
        assert match_detection(rule, photo(PERSON, at=datetime(2025, 6, 1, 0, 30))) is None
        assert match_detection(rule, photo(PERSON, at=datetime(2025, 6, 1, 21, 30))) is None


def test_min_group_size_counts_matching_boxes_only() -> None:
    rule = DetectionRule(species=("deer",), min_group_size=2)
    second = SeenBox("animal", 0.8, (0.6, 0.6, 0.2, 0.2), "Capreolus capreolus", "roe deer")
    assert match_detection(rule, photo(ROE, FOX, PERSON)) is None
    assert match_detection(rule, photo(ROE, second, FOX)) == Match((ROE, second), ROE)


def test_min_group_size_after_the_zone() -> None:
    rule = DetectionRule(zones=(Zone(7, LOWER_HALF),), min_group_size=2)
    assert match_detection(rule, photo(box_with_feet_at(0.2, 0.9), box_with_feet_at(0.5, 0.2))) is None
    assert match_detection(rule, photo(box_with_feet_at(0.2, 0.9), box_with_feet_at(0.5, 0.8))) is not None


# --- cooldown and rarity -------------------------------------------------------------------------------


def test_cooldown() -> None:
    rule = DetectionRule(cooldown_min=30)
    assert not cooling_down(rule, None, NOW)
    assert cooling_down(rule, NOW - timedelta(minutes=29, seconds=59), NOW)
    assert not cooling_down(rule, NOW - timedelta(minutes=30), NOW)
    assert not cooling_down(DetectionRule(), NOW - timedelta(seconds=1), NOW)


def test_rarity() -> None:
    rule = DetectionRule(rare_days=14)
    assert rare_enough(rule, None, NOW)
    assert rare_enough(rule, NOW - timedelta(days=14, seconds=1), NOW)
    assert not rare_enough(rule, NOW - timedelta(days=14), NOW)
    assert not rare_enough(rule, NOW - timedelta(days=2), NOW)
    assert rare_enough(DetectionRule(), NOW - timedelta(minutes=1), NOW)


# --- camera health -------------------------------------------------------------------------------------


def camera(
    battery: int | None = 80,
    sd: float | None = 40.0,
    last_seen: datetime | None = NOW - timedelta(hours=1),
    gap: timedelta | None = timedelta(hours=6),
) -> CameraState:
    return CameraState(7, "pond", battery, sd, last_seen, gap)


def test_usual_gap_is_the_90th_percentile() -> None:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    gaps_h = [2, 2, 3, 3, 4, 4, 5, 6, 8, 30]  # the one long gap is an outlier
    arrivals = [start + timedelta(hours=sum(gaps_h[:i])) for i in range(len(gaps_h) + 1)]
    assert usual_gap(list(reversed(arrivals))) == timedelta(hours=8)


def test_usual_gap_needs_five_arrivals_and_is_at_least_an_hour() -> None:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    assert usual_gap([start + timedelta(hours=i) for i in range(4)]) is None
    assert usual_gap([start + timedelta(hours=3 * i) for i in range(5)]) == timedelta(hours=3)
    assert usual_gap([start + timedelta(minutes=i) for i in range(50)]) == timedelta(hours=1)


def test_healthy_camera() -> None:
    assert health_problems(CameraHealthRule(), camera(), NOW) == {}


def test_battery_and_sd_problems() -> None:
    problems = health_problems(CameraHealthRule(), camera(battery=12, sd=93.0), NOW)
    assert problems == {
        "battery": "battery at 12 % (alert below 20 %)",
        "sd": "SD card 93 % full (alert above 90 %)",
    }


def test_thresholds_are_strict_and_can_be_off() -> None:
    assert health_problems(CameraHealthRule(), camera(battery=20, sd=90.0), NOW) == {}
    assert health_problems(CameraHealthRule(), camera(battery=19, sd=90.04), NOW).keys() == {"battery", "sd"}
    off = CameraHealthRule(battery_below_pct=None, sd_above_pct=None)
    assert health_problems(off, camera(battery=1, sd=99.5), NOW) == {}
    assert health_problems(CameraHealthRule(), camera(battery=None, sd=None), NOW) == {}


def test_sd_fractions_are_rounded_for_people() -> None:
    assert health_problems(CameraHealthRule(), camera(sd=92.46), NOW)["sd"] == "SD card 92.5 % full (alert above 90 %)"


def test_silent_means_longer_than_twice_the_usual_gap() -> None:
    rule = CameraHealthRule()
    assert "silent" not in health_problems(rule, camera(last_seen=NOW - timedelta(hours=12)), NOW)
    problems = health_problems(rule, camera(last_seen=NOW - timedelta(days=3, hours=4, minutes=10)), NOW)
    assert problems == {"silent": "silent for 3 days 4 h (usually a photo every 6 h)"}
    assert health_problems(CameraHealthRule(silent=False), camera(last_seen=NOW - timedelta(days=9)), NOW) == {}


def test_never_seen_or_no_rhythm_is_not_silent() -> None:
    assert health_problems(CameraHealthRule(), camera(last_seen=None), NOW) == {}
    assert health_problems(CameraHealthRule(), camera(last_seen=NOW - timedelta(days=30), gap=None), NOW) == {}


def test_health_fires_once_re_arms_and_fires_again() -> None:
    rule = CameraHealthRule()
    firing: frozenset[str] = frozenset()
    fired: list[frozenset[str]] = []
    for battery in (50, 15, 12, 10, 100, 90, 18):
        step = transition(firing, health_problems(rule, camera(battery=battery), NOW))
        fired.append(step.fire)
        firing = (firing | step.fire) - step.clear
    assert fired == [frozenset(), {"battery"}, frozenset(), frozenset(), frozenset(), frozenset(), {"battery"}]


def test_transition() -> None:
    assert transition(frozenset(), []) == Transition(frozenset(), frozenset())
    assert transition(frozenset({"battery"}), ["battery", "sd"]) == Transition(frozenset({"sd"}), frozenset())
    assert transition(frozenset({"battery", "sd"}), iter(["sd"])) == Transition(frozenset(), frozenset({"battery"}))


@pytest.mark.parametrize(
    ("span", "words"),
    [
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=6), "6 h"),
        (timedelta(hours=2, minutes=30), "2 h 30 min"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=2, minutes=59), "2 days"),
        (timedelta(days=3, hours=4), "3 days 4 h"),
        (timedelta(seconds=-5), "0 min"),
    ],
)
def test_durations(span: timedelta, words: str) -> None:
    assert spoken(span) == words


# --- projects ------------------------------------------------------------------------------------------


def test_busy_cameras() -> None:
    assert busy_cameras({"pond": 137, "gate": 50, "oak": 51, "field": 3}, 50) == {
        "pond": "137 images today (more than 50): a branch in front of the lens?",
        "oak": "51 images today (more than 50): a branch in front of the lens?",
    }
    assert list(busy_cameras({"a": 60, "b": 90, "c": 60}, 50)) == ["b", "a", "c"]
    assert busy_cameras({}, 50) == {}


def test_project_silence() -> None:
    assert project_silence(None, NOW, 48) is None
    assert project_silence(NOW - timedelta(hours=48), NOW, 48) is None
    assert project_silence(NOW - timedelta(hours=51), NOW, 48) == "no images for 2 days 3 h (alert after 48 h)"


# --- theft watch ---------------------------------------------------------------------------------------


def test_sensitivity_orders_its_thresholds() -> None:
    low, medium, high = SENSITIVITY["low"], SENSITIVITY["medium"], SENSITIVITY["high"]
    assert (low.people_share, medium.people_share, high.people_share) == (0.01, 0.05, 0.15)
    assert (low.silence_factor, medium.silence_factor, high.silence_factor) == (4.0, 2.5, 1.5)
    assert low.min_history < medium.min_history < high.min_history


@pytest.mark.parametrize(
    ("sensitivity", "people", "events", "unusual"),
    [
        ("low", 0, 100, True),
        ("low", 1, 100, False),  # 1 % is not below 1 %
        ("low", 1, 101, True),
        ("medium", 4, 100, True),
        ("medium", 5, 100, False),
        ("high", 14, 100, True),
        ("high", 15, 100, False),
        ("high", 60, 100, False),  # a ranger's trail
        ("low", 5, 9, True),  # too little history: every person is unusual
        ("low", 5, 10, False),
        ("medium", 5, 19, True),
        ("medium", 5, 20, False),
        ("high", 20, 39, True),
        ("high", 20, 40, False),
    ],
)
def test_unusual_person(sensitivity: str, people: int, events: int, unusual: bool) -> None:
    assert unusual_person(TheftWatchRule(sensitivity), people, events) is unusual


@pytest.mark.parametrize(
    ("sensitivity", "quiet_h", "suspicious"),
    [
        ("high", 9, False),
        ("high", 10, True),
        ("medium", 15, False),
        ("medium", 16, True),
        ("low", 24, False),
        ("low", 25, True),
    ],
)
def test_silent_against_rhythm(sensitivity: str, quiet_h: int, suspicious: bool) -> None:
    state = camera(last_seen=NOW - timedelta(hours=quiet_h))  # usually every 6 h
    said = silent_against_rhythm(TheftWatchRule(sensitivity), state, NOW)
    assert (said is not None) is suspicious
    if said:
        assert (
            said
            == f"pond silent for {spoken(timedelta(hours=quiet_h))} (usually a photo every 6 h): stolen or covered?"
        )
    assert silent_against_rhythm(TheftWatchRule(sensitivity), camera(last_seen=NOW - timedelta(hours=25)), NOW) == (
        "pond silent for 1 day 1 h (usually a photo every 6 h): stolen or covered?"
    )


def test_silent_against_rhythm_needs_a_rhythm() -> None:
    assert silent_against_rhythm(TheftWatchRule("high"), camera(last_seen=None), NOW) is None
    assert (
        silent_against_rhythm(TheftWatchRule("high"), camera(gap=None, last_seen=NOW - timedelta(days=9)), NOW) is None
    )


# --- the server ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("used", "level"), [(0, None), (79.99, None), (80, 80), (89.9, 80), (90, 90), (94, 90), (95, 95), (100, 95)]
)
def test_disk_level(used: float, level: int | None) -> None:
    assert disk_level(used) == level


def test_admin_problems() -> None:
    actors = {
        "detector": ActorSnapshot(alive=True, restarts_last_hour=6),
        "ingestor": ActorSnapshot(alive=False, restarts_last_hour=0),
        "mailer": ActorSnapshot(alive=True, restarts_last_hour=4),
    }
    assert admin_problems(92.0, actors, 27) == {
        "disk:80": "disk 92 % full (alert at 80 %)",
        "disk:90": "disk 92 % full (alert at 90 %)",
        "actor:detector": "restarting in a loop: 6 restarts in the last hour",
        "actor:ingestor": "dead",
        "dead-letters": "27 images failed for good",
    }


def test_admin_quiet_server() -> None:
    assert admin_problems(50.0, {"detector": ActorSnapshot(True, 0)}, 20) == {}
    assert admin_problems(50.0, {}, 21, dead_letter_limit=20) == {"dead-letters": "21 images failed for good"}
    assert admin_problems(50.0, {}, 3, dead_letter_limit=2).keys() == {"dead-letters"}


def test_a_failed_backup_is_an_admin_problem_until_one_succeeds() -> None:
    problems = admin_problems(50.0, {}, 0, backup_error="backup: pg_dump failed (exit 1): no space left")
    assert problems.keys() == {"backup"} and "pg_dump failed (exit 1): no space left" in problems["backup"]
    assert len(admin_problems(50.0, {}, 0, backup_error="x" * 5000)["backup"]) < 400, "a line, not a log"
    assert admin_problems(50.0, {}, 0, backup_error=None) == {}
    assert admin_problems(50.0, {}, 0, backup_running_for=timedelta(hours=23)) == {}, "a long backup is fine"
    stuck = admin_problems(50.0, {}, 0, backup_running_for=timedelta(days=1, hours=2))
    assert stuck.keys() == {"backup-stuck"} and "running for 1 day 2 h" in stuck["backup-stuck"]


def test_disk_fires_once_per_level_and_freeing_space_only_re_arms() -> None:
    firing: frozenset[str] = frozenset()
    fired = []
    for used in (70, 82, 85, 91, 96, 97, 85, 91, 60, 81):
        step = transition(firing, admin_problems(used, {}, 0))
        fired.append(sorted(step.fire))
        firing = (firing | step.fire) - step.clear
    assert fired == [[], ["disk:80"], [], ["disk:90"], ["disk:95"], [], [], ["disk:90"], [], ["disk:80"]]
    assert DISK_LEVELS == (80, 90, 95)


def test_a_miss_is_explained_by_the_first_condition_that_fails() -> None:
    at_night = datetime(2026, 5, 1, 23, 10)
    fox = SeenBox("animal", 0.8, (0.1, 0.1, 0.2, 0.2), "Vulpes vulpes", "red fox")
    photo = Sighting(camera_id=1, site_id=3, local_time=at_night, boxes=(fox,))
    assert "site" in miss_reason(DetectionRule(sites=frozenset({4})), photo)
    assert "outside the rule's hours 06:00-20:00" in miss_reason(DetectionRule(hours=(6, 20)), photo)
    assert miss_reason(DetectionRule(labels=frozenset({"person"})), photo) == "the photo shows animal, not person"
    assert "below the rule's minimum 0.90" in miss_reason(DetectionRule(min_score=0.9), photo)
    assert "(red fox) is not one of Canis lupus" in miss_reason(DetectionRule(species=("Canis lupus",)), photo)
    assert "group size 2" in miss_reason(DetectionRule(min_group_size=2), photo)
    assert match_detection(DetectionRule(min_group_size=2), photo) is None
