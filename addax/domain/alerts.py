"""Alert rules: what a user may ask to be told about, checked before it is stored, and the decisions to fire.

A rule is a :class:`RuleBody` whose ``settings`` depend on its kind. The API accepts and returns one flat JSON
object per rule (:func:`parse_rule`, :func:`rule_json`); the store keeps the kind-specific part in a jsonb
column (:func:`settings_json`, :func:`settings_from_json`). Every problem with a body raises a
:class:`RuleError` naming the field as the JSON spells it (``zones[0].polygon``, ``channels[1]``), so a form
can point at it.

The decisions are pure: the actors gather history (the last alert of a rule at a camera, when a species was
last seen at a site, which problems are already firing) and ask these functions what to do. Conditions that
last (a low battery, a full disk, a dead actor) fire once through :func:`transition` and re-arm when they
clear, so a camera with a flat battery sends one alert, not one a day.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

# The rules themselves live in alert_rules; they are re-exported so that callers import every alert name from here.
from addax.domain.alert_rules import (
    CHANNELS,
    KINDS,
    LABELS,
    CameraHealthRule,
    DetectionRule,
    DigestRule,
    ProjectRule,
    ReminderRule,
    RuleBody,
    RuleError,
    Settings,
    SpeciesReportRule,
    TheftWatchRule,
    Zone,
    parse_rule,
    rule_json,
    settings_from_json,
    settings_json,
)
from addax.domain.taxonomy import taxon_matches

__all__ = [
    "BACKUP_STUCK",
    "CHANNELS",
    "DISK_LEVELS",
    "KINDS",
    "LABELS",
    "RESTART_LOOP",
    "SENSITIVITY",
    "ActorSnapshot",
    "CameraHealthRule",
    "CameraState",
    "DetectionRule",
    "DigestRule",
    "Match",
    "ProjectRule",
    "ReminderRule",
    "RuleBody",
    "RuleError",
    "SeenBox",
    "Settings",
    "Sighting",
    "SpeciesReportRule",
    "TheftThresholds",
    "TheftWatchRule",
    "Transition",
    "Zone",
    "admin_problems",
    "busy_cameras",
    "cooling_down",
    "disk_level",
    "duration",
    "foot_point",
    "health_problems",
    "in_polygon",
    "match_detection",
    "miss_reason",
    "parse_rule",
    "project_silence",
    "rare_enough",
    "rule_json",
    "settings_from_json",
    "settings_json",
    "silent_against_rhythm",
    "transition",
    "unusual_person",
    "usual_gap",
]

# --- detections ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SeenBox:
    label: str
    score: float
    bbox: tuple[float, float, float, float]  # x, y, w, h normalised, top-left origin
    taxon: str | None = None
    common_name: str | None = None


@dataclass(frozen=True, slots=True)
class Sighting:
    """One processed photo."""

    camera_id: int
    site_id: int | None
    local_time: datetime  # camera-local wall clock (naive is fine)
    boxes: tuple[SeenBox, ...]


@dataclass(frozen=True, slots=True)
class Match:
    boxes: tuple[SeenBox, ...]  # the boxes that matched, best first
    best: SeenBox  # a box with a species beats a bare label, then the higher score


def match_detection(rule: DetectionRule, sighting: Sighting) -> Match | None:
    """The boxes of ``sighting`` that ``rule`` alerts on, or None when it does not fire.

    Cooldown and rarity need history and are asked separately (:func:`cooling_down`, :func:`rare_enough`).
    With ``species``, an animal box counts only when its classification matches one of them; a box of another
    label counts only when the rule names that label (so "person or wolf" is ``labels={"person", "animal"}``,
    ``species=("wolf",)``, and ``species`` alone never fires on people).
    """
    if rule.sites and sighting.site_id not in rule.sites:
        return None
    if rule.hours is not None and not _within_hours(rule.hours, sighting.local_time.hour):
        return None
    polygons = [zone.polygon for zone in rule.zones if zone.camera_id == sighting.camera_id]
    boxes = [
        box
        for box in sighting.boxes
        if _box_matches(rule, box) and (not polygons or any(in_polygon(foot_point(box), p) for p in polygons))
    ]
    if not boxes or len(boxes) < rule.min_group_size:
        return None
    boxes.sort(key=_evidence, reverse=True)
    return Match(tuple(boxes), boxes[0])


def miss_reason(rule: DetectionRule, sighting: Sighting) -> str:
    """Why ``rule`` does not fire on ``sighting`` (for a user testing a rule on a past photo): the first
    condition that fails, in words."""
    if rule.sites and sighting.site_id not in rule.sites:
        return "the photo is from a site the rule does not watch"
    if rule.hours is not None and not _within_hours(rule.hours, sighting.local_time.hour):
        start, end = rule.hours
        return f"it was taken at {sighting.local_time:%H:%M}, outside the rule's hours {start:02d}:00-{end % 24:02d}:00"
    if not sighting.boxes:
        return "nothing was detected in the photo"
    if rule.labels and not any(box.label in rule.labels for box in sighting.boxes):
        seen = " and ".join(sorted({box.label for box in sighting.boxes}))
        return f"the photo shows {seen}, not {' or '.join(sorted(rule.labels))}"
    if not any(box.score >= rule.min_score for box in sighting.boxes):
        best = max(box.score for box in sighting.boxes)
        return f"the best detection scores {best:.2f}, below the rule's minimum {rule.min_score:.2f}"
    if rule.species and not any(_box_matches(rule, box) for box in sighting.boxes):
        animals = {box.common_name or box.taxon or "unclassified" for box in sighting.boxes if box.label == "animal"}
        shown = ", ".join(sorted(animals)) or "no classified animal"
        return f"the species seen ({shown}) is not one of {', '.join(rule.species)}"
    matching = [box for box in sighting.boxes if _box_matches(rule, box)]
    if any(zone.camera_id == sighting.camera_id for zone in rule.zones):
        polygons = [zone.polygon for zone in rule.zones if zone.camera_id == sighting.camera_id]
        matching = [box for box in matching if any(in_polygon(foot_point(box), p) for p in polygons)]
        if not matching:
            return "what matches stands outside the rule's zone on this camera"
    if len(matching) < rule.min_group_size:
        return f"{len(matching)} matching, fewer than the rule's group size {rule.min_group_size}"
    return "it does not match"


def _evidence(box: SeenBox) -> tuple[bool, float]:
    return (box.taxon is not None or box.common_name is not None, box.score)


def _box_matches(rule: DetectionRule, box: SeenBox) -> bool:
    if box.score < rule.min_score or (rule.labels and box.label not in rule.labels):
        return False
    if not rule.species:
        return True
    if box.label != "animal":
        return box.label in rule.labels
    if box.taxon is None and box.common_name is None:
        return False
    return any(taxon_matches(wanted, box.taxon, box.common_name) for wanted in rule.species)


def _within_hours(hours: tuple[int, int], hour: int) -> bool:
    """Whether ``hour`` lies in [from, to), which wraps midnight when from > to (20, 6)."""
    start, end = hours
    return start <= hour < end if start < end else hour >= start or hour < end


def foot_point(box: SeenBox) -> tuple[float, float]:
    """The bottom-centre of a box: where an animal's feet touch the ground, so what a zone drawn on it means."""
    x, y, w, h = box.bbox
    return (x + w / 2, y + h)


def in_polygon(point: tuple[float, float], polygon: Sequence[tuple[float, float]]) -> bool:
    """Ray casting; a point on an edge is inside (a box touching the frame's bottom sits on a zone's edge)."""
    x, y = point
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, [*polygon[1:], polygon[0]], strict=True):
        if _on_segment(x, y, x1, y1, x2, y2):
            return True
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _on_segment(x: float, y: float, x1: float, y1: float, x2: float, y2: float, eps: float = 1e-9) -> bool:
    cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
    return (
        abs(cross) <= eps
        and min(x1, x2) - eps <= x <= max(x1, x2) + eps
        and min(y1, y2) - eps <= y <= max(y1, y2) + eps
    )


def cooling_down(rule: DetectionRule, last_alert_at: datetime | None, now: datetime) -> bool:
    """Whether the rule alerted at this camera less than ``cooldown_min`` minutes ago (then it stays quiet)."""
    if rule.cooldown_min <= 0 or last_alert_at is None:
        return False
    return now - last_alert_at < timedelta(minutes=rule.cooldown_min)


def rare_enough(rule: DetectionRule, last_seen_before: datetime | None, taken_at: datetime) -> bool:
    """Whether a rarity rule lets this sighting through: never seen at the site, or more than ``rare_days`` ago."""
    if rule.rare_days <= 0 or last_seen_before is None:
        return True
    return taken_at - last_seen_before > timedelta(days=rule.rare_days)


# --- problems that last: camera health, projects, the server ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Transition:
    fire: frozenset[str]  # problems new since the last check: alert now
    clear: frozenset[str]  # problems that were firing and are gone: re-arm


def transition(firing: frozenset[str], now_problems: Iterable[str]) -> Transition:
    """What changed since the last check; afterwards the firing set is exactly ``now_problems``."""
    now = frozenset(now_problems)
    return Transition(fire=now - firing, clear=firing - now)


@dataclass(frozen=True, slots=True)
class CameraState:
    camera_id: int
    name: str
    battery_pct: int | None
    sd_used_pct: float | None
    last_seen_at: datetime | None
    usual_gap: timedelta | None


USUAL_GAP_MIN_ARRIVALS = 5
"""Fewer arrivals say nothing about a camera's rhythm."""


def usual_gap(arrivals: Sequence[datetime]) -> timedelta | None:
    """A camera's own rhythm: the 90th percentile (nearest rank) of the gaps between its recent arrivals.

    A camera at a quiet spot may be silent for a day as a matter of course, one on a game trail never; a
    percentile rather than the longest gap keeps one holiday from teaching it that a week is normal. At least
    an hour, so a burst of photos does not make the next quiet afternoon look like a theft.
    """
    if len(arrivals) < USUAL_GAP_MIN_ARRIVALS:
        return None
    ordered = sorted(arrivals)
    gaps = sorted(later - earlier for earlier, later in pairwise(ordered))
    p90 = gaps[math.ceil(0.9 * len(gaps)) - 1]
    return max(p90, timedelta(hours=1))


def health_problems(rule: CameraHealthRule, state: CameraState, now: datetime) -> dict[str, str]:
    """The camera's problems now: key ("battery" | "sd" | "silent") -> a sentence for the alert."""
    problems: dict[str, str] = {}
    if rule.battery_below_pct is not None and state.battery_pct is not None:
        if state.battery_pct < rule.battery_below_pct:
            problems["battery"] = f"battery at {state.battery_pct} % (alert below {rule.battery_below_pct} %)"
    if rule.sd_above_pct is not None and state.sd_used_pct is not None:
        if state.sd_used_pct > rule.sd_above_pct:
            problems["sd"] = f"SD card {_number(state.sd_used_pct)} % full (alert above {rule.sd_above_pct} %)"
    if rule.silent:
        silence = _silence(state, now, 2.0)
        if silence:
            problems["silent"] = silence
    return problems


def _silence(state: CameraState, now: datetime, factor: float) -> str | None:
    """A "silent for …" sentence when the camera was quiet longer than ``factor`` × its usual gap (never seen: None)."""
    if state.last_seen_at is None or state.usual_gap is None:
        return None
    quiet = now - state.last_seen_at
    if quiet <= state.usual_gap * factor:
        return None
    return f"silent for {duration(quiet)} (usually a photo every {duration(state.usual_gap)})"


def busy_cameras(images_today: Mapping[str, int], limit: int) -> dict[str, str]:
    """Cameras that took more than ``limit`` images today, busiest first: usually vegetation, not animals."""
    busy = sorted(((n, name) for name, n in images_today.items() if n > limit), key=lambda item: (-item[0], item[1]))
    return {name: f"{n} images today (more than {limit}): a branch in front of the lens?" for n, name in busy}


def project_silence(last_image_at: datetime | None, now: datetime, silent_hours: int) -> str | None:
    """A sentence when the project had no image for more than ``silent_hours``; a project never fed is not silent."""
    if last_image_at is None or now - last_image_at <= timedelta(hours=silent_hours):
        return None
    return f"no images for {duration(now - last_image_at)} (alert after {silent_hours} h)"


# --- theft watch ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TheftThresholds:
    people_share: float  # a site is "people-rare" when person events / all events is below this
    min_history: int  # events needed before a site's history counts (fewer: every person is unusual)
    silence_factor: float  # silent longer than this × the camera's usual gap


SENSITIVITY: Mapping[str, TheftThresholds] = {
    # More sensitive: more sites count as people-rare, a site's history needs more events before a person is
    # taken as normal there, and a shorter silence is suspicious.
    "low": TheftThresholds(people_share=0.01, min_history=10, silence_factor=4.0),
    "medium": TheftThresholds(people_share=0.05, min_history=20, silence_factor=2.5),
    "high": TheftThresholds(people_share=0.15, min_history=40, silence_factor=1.5),
}


def unusual_person(rule: TheftWatchRule, person_events: int, all_events: int) -> bool:
    """Whether a person at a site is unusual, given the site's history before this event.

    A ranger's trail camera sees people daily and must stay quiet; one in a quiet forest should not.
    """
    thresholds = SENSITIVITY[rule.sensitivity]
    if all_events < thresholds.min_history:
        return True
    return person_events / all_events < thresholds.people_share


def silent_against_rhythm(rule: TheftWatchRule, state: CameraState, now: datetime) -> str | None:
    """A sentence when a camera went quiet much longer than it usually does: stolen, covered or dead."""
    silence = _silence(state, now, SENSITIVITY[rule.sensitivity].silence_factor)
    return f"{state.name} {silence}: stolen or covered?" if silence else None


# --- the server ----------------------------------------------------------------------------------------

DISK_LEVELS = (80, 90, 95)
RESTART_LOOP = 5
"""Restarts in an hour from which an actor is taken to be restarting in a loop."""


@dataclass(frozen=True, slots=True)
class ActorSnapshot:
    alive: bool
    restarts_last_hour: int


BACKUP_STUCK = timedelta(days=1)  # a backup running longer makes the next night's skip


def disk_level(used_pct: float) -> int | None:
    """The highest of :data:`DISK_LEVELS` reached, or None below the first."""
    reached = [level for level in DISK_LEVELS if used_pct >= level]
    return reached[-1] if reached else None


def admin_problems(
    disk_used_pct: float,
    actors: Mapping[str, ActorSnapshot],
    open_dead_letters: int,
    dead_letter_limit: int = 20,
    backup_error: str | None = None,
    backup_running_for: timedelta | None = None,
) -> dict[str, str]:
    """The server's problems now, keyed for :func:`transition`.

    The disk has one key per level reached ("disk:80", "disk:90"), so filling up fires at each level once and
    freeing space only re-arms: going from 92 % back to 85 % clears "disk:90" and fires nothing. (A first
    check at 96 % fires all three keys; send the problems of one check as one message.)
    ``backup_error`` is the last nightly backup's failure, None once a backup succeeded: one alert per spell.
    ``backup_running_for``: how long the backup now running has run; past a day it holds up the next ones.
    """
    problems: dict[str, str] = {}
    for level in DISK_LEVELS:
        if disk_used_pct >= level:
            problems[f"disk:{level}"] = f"disk {_number(disk_used_pct)} % full (alert at {level} %)"
    for name, snapshot in sorted(actors.items()):
        if not snapshot.alive:
            problems[f"actor:{name}"] = "dead"
        elif snapshot.restarts_last_hour >= RESTART_LOOP:
            restarts = snapshot.restarts_last_hour
            problems[f"actor:{name}"] = f"restarting in a loop: {restarts} restarts in the last hour"
    if open_dead_letters > dead_letter_limit:
        problems["dead-letters"] = f"{open_dead_letters} images failed for good"
    if backup_error is not None:
        problems["backup"] = f"the nightly backup failed (it is retried every hour): {backup_error[:300]}"
    if backup_running_for is not None and backup_running_for > BACKUP_STUCK:
        problems["backup-stuck"] = (
            f"the nightly backup has been running for {duration(backup_running_for)}: "
            "no other backup starts until it ends (a hung pg_dump or an unreachable target?)"
        )
    return problems


# --- wording -------------------------------------------------------------------------------------------


def duration(span: timedelta) -> str:
    """A span as people say it: "3 days 4 h", "6 h", "2 h 30 min", "45 min"."""
    minutes = max(0, int(span.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days > 1 else ''}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min"


def _number(value: float) -> str:
    """93.0 -> "93", 92.46 -> "92.5"."""
    return f"{round(value, 1):g}"
