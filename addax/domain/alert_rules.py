"""Alert rules as values, and their flat JSON: checked field by field, every error naming its field.

The API's body is one flat object (``{"name": …, "kind": "detection", "labels": ["person"], "hours": [20, 6]}``);
the keys other than ``name``, ``kind``, ``channels`` and ``enabled`` are the kind's settings and map one to one
onto the fields of its settings class (only ``zones[].camera`` is spelled ``Zone.camera_id``). Times are
"HH:MM", dates "YYYY-MM-DD". Import these names from :mod:`addax.domain.alerts`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import date, time
from typing import Any

from addax.domain.field_errors import FieldError
from addax.domain.megadetector import LABELS as LABELS  # re-exported: the labels a box can have

CHANNELS = ("email", "telegram")
KINDS = ("detection", "camera_health", "project", "theft_watch", "reminder", "digest", "species_report")
SENSITIVITIES = ("low", "medium", "high")
PERIODS = ("weekly", "monthly")
IGNORED = ("project", "id", "owner")  # the API's business, not the rule's
MAX_NAME = 200
MAX_MESSAGE = 1000
MAX_POLYGON_POINTS = 100


class RuleError(FieldError):
    """A rule body is wrong; ``field`` names the culprit as the JSON spells it (``zones[0].polygon``)."""


@dataclass(frozen=True, slots=True)
class Zone:
    camera_id: int
    polygon: tuple[tuple[float, float], ...]  # normalised 0..1 image coordinates, at least 3 points


@dataclass(frozen=True, slots=True)
class DetectionRule:
    labels: frozenset[str] = frozenset()  # empty: any label
    species: tuple[str, ...] = ()  # empty: any; else what taxon_matches understands ("any deer", "Vulpes")
    min_score: float = 0.5
    sites: frozenset[int] = frozenset()  # site ids; empty: every site
    zones: tuple[Zone, ...] = ()  # a camera named here counts only boxes in its polygon(s); others: whole view
    hours: tuple[int, int] | None = None  # camera-local [from, to) hours; wraps midnight when from > to
    min_group_size: int = 1  # matching boxes in one photo
    cooldown_min: int = 0  # per camera, minutes
    rare_days: int = 0  # > 0: only if this species/label was not seen at the site in that many days


@dataclass(frozen=True, slots=True)
class CameraHealthRule:
    battery_below_pct: int | None = 20
    sd_above_pct: int | None = 90
    silent: bool = True  # silent longer than twice its own usual gap
    at: time = time(8, 0)  # project-local time of the daily check


@dataclass(frozen=True, slots=True)
class ProjectRule:
    max_images_per_camera_day: int = 50
    silent_hours: int = 48


@dataclass(frozen=True, slots=True)
class TheftWatchRule:
    sensitivity: str = "medium"  # low | medium | high


@dataclass(frozen=True, slots=True)
class ReminderRule:
    on: date
    message: str
    at: time = time(8, 0)


@dataclass(frozen=True, slots=True)
class DigestRule:
    at: time = time(7, 0)


@dataclass(frozen=True, slots=True)
class SpeciesReportRule:
    period: str = "weekly"  # weekly (Mondays) | monthly (the 1st)
    at: time = time(7, 0)


Settings = (
    DetectionRule | CameraHealthRule | ProjectRule | TheftWatchRule | ReminderRule | DigestRule | SpeciesReportRule
)


@dataclass(frozen=True, slots=True)
class RuleBody:
    name: str
    kind: str
    channels: tuple[str, ...]
    enabled: bool
    settings: Settings


# --- parsing -------------------------------------------------------------------------------------------


def parse_rule(body: Mapping[str, Any], *, current: RuleBody | None = None) -> RuleBody:
    """A rule from the API's JSON body; with ``current`` (a PATCH) only the keys present change.

    New rules default to kind "detection", channels ["email"] and enabled; a PATCH cannot change the kind.
    The keys "project", "id" and "owner" are ignored.
    """
    if not isinstance(body, Mapping):
        raise RuleError("body", "must be a JSON object")
    kind = _kind(body, current)
    if "name" in body:
        name = _name(body["name"], "name")
    elif current is not None:
        name = current.name
    else:
        raise RuleError("name", "required")
    channels = _channels(body["channels"], "channels") if "channels" in body else None
    enabled = _boolean(body["enabled"], "enabled") if "enabled" in body else None
    own = {key: value for key, value in body.items() if key not in _COMMON and key not in IGNORED}
    settings = settings_from_json(kind, own, current=current.settings if current is not None else None)
    return RuleBody(
        name=name,
        kind=kind,
        channels=channels if channels is not None else current.channels if current is not None else ("email",),
        enabled=enabled if enabled is not None else current.enabled if current is not None else True,
        settings=settings,
    )


def _kind(body: Mapping[str, Any], current: RuleBody | None) -> str:
    if "kind" not in body:
        return current.kind if current is not None else "detection"
    kind: str = _choice(KINDS)(body["kind"], "kind")
    if current is not None and kind != current.kind:
        raise RuleError("kind", f"cannot change a {current.kind} rule into a {kind} rule; create a new one")
    return kind


def settings_from_json(kind: str, data: Mapping[str, Any], *, current: Settings | None = None) -> Settings:
    """The settings of a ``kind`` rule from their JSON (the jsonb column, or the kind's keys of a body).

    With ``current``, the keys present replace its values and the others are kept.
    """
    if kind not in _CLASSES:
        raise RuleError("kind", f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    cls, parsers = _CLASSES[kind], _PARSERS[kind]
    values: dict[str, Any] = {}
    if current is not None:
        values = {f.name: getattr(current, f.name) for f in fields(current)}
    for key, value in data.items():
        parser = parsers.get(key)
        if parser is None:
            raise RuleError(key, f"not a setting of a {kind} rule")
        values[key] = parser(value, key)
    for f in fields(cls):
        if f.name not in values and f.default is MISSING:
            raise RuleError(f.name, "required")
    settings: Settings = cls(**values)
    return settings


def rule_json(rule: RuleBody) -> dict[str, Any]:
    """The flat JSON of a rule, as the API returns it; ``parse_rule(rule_json(r)) == r``."""
    return {
        "name": rule.name,
        "kind": rule.kind,
        "channels": list(rule.channels),
        "enabled": rule.enabled,
        **settings_json(rule.settings),
    }


def settings_json(settings: Settings) -> dict[str, Any]:
    """The kind-specific part of a rule as JSON, every field spelled out (defaults included)."""
    return {f.name: _to_json(getattr(settings, f.name)) for f in fields(settings)}


def _to_json(value: object) -> Any:
    if isinstance(value, Zone):
        return {"camera": value.camera_id, "polygon": [list(point) for point in value.polygon]}
    if isinstance(value, frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value


# --- field parsers: (JSON value, field name) -> value, or RuleError -----------------------------------

Parser = Callable[[Any, str], Any]


def _name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(field, "must be a non-empty string")
    name = value.strip()
    if len(name) > MAX_NAME:
        raise RuleError(field, f"at most {MAX_NAME} characters, got {len(name)}")
    return name


def _message(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError(field, "must be a non-empty string")
    message = value.strip()
    if len(message) > MAX_MESSAGE:
        raise RuleError(field, f"at most {MAX_MESSAGE} characters, got {len(message)}")
    return message


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise RuleError(field, "must be true or false")
    return value


def _integer(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RuleError(field, "must be a whole number")
    return value


def _count(minimum: int) -> Parser:
    def parse(value: Any, field: str) -> int:
        number = _integer(value, field)
        if number < minimum:
            raise RuleError(field, f"must be at least {minimum}, got {number}")
        return number

    return parse


def _unit(value: Any, field: str) -> float:
    """A number in 0..1 (a score, a coordinate)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RuleError(field, "must be a number")
    if not 0 <= value <= 1:
        raise RuleError(field, f"must be between 0 and 1, got {value}")
    return float(value)


def _percent_or_off(value: Any, field: str) -> int | None:
    if value is None:
        return None
    number = _integer(value, field)
    if not 0 <= number <= 100:
        raise RuleError(field, f"must be a percentage 0..100 (or null to turn it off), got {number}")
    return number


def _choice(options: tuple[str, ...]) -> Parser:
    def parse(value: Any, field: str) -> str:
        if value not in options or not isinstance(value, str):
            raise RuleError(field, f"unknown value {value!r}; one of {', '.join(options)}")
        return value

    return parse


_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _time(value: Any, field: str) -> time:
    found = _TIME.fullmatch(value) if isinstance(value, str) else None
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise RuleError(field, f"must be a time of day as HH:MM, got {value!r}")
    return time(int(found[1]), int(found[2]))


def _date(value: Any, field: str) -> date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RuleError(field, f"must be a date as YYYY-MM-DD, got {value!r}")


def _array(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise RuleError(field, "must be an array")
    return list(value)


def _channels(value: Any, field: str) -> tuple[str, ...]:
    items = _array(value, field)
    if not items:
        raise RuleError(field, "at least one channel")
    channels: list[str] = []
    for index, item in enumerate(items):
        channel = _choice(CHANNELS)(item, f"{field}[{index}]")
        if channel in channels:
            raise RuleError(f"{field}[{index}]", f"{channel} is listed twice")
        channels.append(channel)
    return tuple(channels)


def _labels(value: Any, field: str) -> frozenset[str]:
    return frozenset(_choice(LABELS)(item, f"{field}[{i}]") for i, item in enumerate(_array(value, field)))


def _species(value: Any, field: str) -> tuple[str, ...]:
    return tuple(_name(item, f"{field}[{i}]") for i, item in enumerate(_array(value, field)))


def _sites(value: Any, field: str) -> frozenset[int]:
    return frozenset(_count(1)(item, f"{field}[{i}]") for i, item in enumerate(_array(value, field)))


def _zones(value: Any, field: str) -> tuple[Zone, ...]:
    return tuple(_zone(item, f"{field}[{i}]") for i, item in enumerate(_array(value, field)))


def _zone(value: Any, field: str) -> Zone:
    if not isinstance(value, Mapping):
        raise RuleError(field, 'must be an object {"camera": id, "polygon": [[x, y], ...]}')
    for key in value:
        if key not in ("camera", "polygon"):
            raise RuleError(f"{field}.{key}", "not a field of a zone")
    for key in ("camera", "polygon"):
        if key not in value:
            raise RuleError(f"{field}.{key}", "required")
    return Zone(_count(1)(value["camera"], f"{field}.camera"), _polygon(value["polygon"], f"{field}.polygon"))


def _polygon(value: Any, field: str) -> tuple[tuple[float, float], ...]:
    items = _array(value, field)
    if not 3 <= len(items) <= MAX_POLYGON_POINTS:
        raise RuleError(field, f"needs 3 to {MAX_POLYGON_POINTS} points, got {len(items)}")
    points: list[tuple[float, float]] = []
    for index, item in enumerate(items):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise RuleError(field, f"point {index} must be [x, y]")
        try:
            points.append((_unit(item[0], field), _unit(item[1], field)))
        except RuleError as error:
            raise RuleError(field, f"point {index}: {error.message} (image coordinates run 0..1)") from None
    return tuple(points)


def _hours(value: Any, field: str) -> tuple[int, int] | None:
    """[from, to) in whole camera-local hours; from 0..23, to 0..24, never equal (to 0 means midnight)."""
    if value is None:
        return None
    items = _array(value, field)
    if len(items) != 2:
        raise RuleError(field, "must be [from, to], e.g. [20, 6] for 20:00 to 06:00")
    start, end = (_integer(item, field) for item in items)
    if not (0 <= start <= 23 and 0 <= end <= 24):
        raise RuleError(field, f"hours run from 0..23 to 0..24, got [{start}, {end}]")
    if start == end:
        raise RuleError(field, "from and to are the same hour; leave hours out to alert at any time")
    if (start, end) == (0, 24):
        raise RuleError(field, "that is the whole day; leave hours out to alert at any time")
    return (start, end)


_COMMON = ("name", "kind", "channels", "enabled")

_CLASSES: Mapping[str, type[Settings]] = {
    "detection": DetectionRule,
    "camera_health": CameraHealthRule,
    "project": ProjectRule,
    "theft_watch": TheftWatchRule,
    "reminder": ReminderRule,
    "digest": DigestRule,
    "species_report": SpeciesReportRule,
}

_PARSERS: Mapping[str, Mapping[str, Parser]] = {
    "detection": {
        "labels": _labels,
        "species": _species,
        "min_score": _unit,
        "sites": _sites,
        "zones": _zones,
        "hours": _hours,
        "min_group_size": _count(1),
        "cooldown_min": _count(0),
        "rare_days": _count(0),
    },
    "camera_health": {
        "battery_below_pct": _percent_or_off,
        "sd_above_pct": _percent_or_off,
        "silent": _boolean,
        "at": _time,
    },
    "project": {"max_images_per_camera_day": _count(1), "silent_hours": _count(1)},
    "theft_watch": {"sensitivity": _choice(SENSITIVITIES)},
    "reminder": {"on": _date, "message": _message, "at": _time},
    "digest": {"at": _time},
    "species_report": {"period": _choice(PERIODS), "at": _time},
}
