"""Alert rule bodies: every kind parsed, every kind of mistake rejected with its field, PATCH, round trips."""

from __future__ import annotations

from datetime import date, time
from typing import Any

import pytest

from addax.domain.alerts import (
    CameraHealthRule,
    DetectionRule,
    DigestRule,
    ProjectRule,
    ReminderRule,
    RuleBody,
    RuleError,
    SpeciesReportRule,
    TheftWatchRule,
    Zone,
    parse_rule,
    rule_json,
    settings_from_json,
    settings_json,
)

GATE: dict[str, Any] = {
    "name": "people at the gate",
    "kind": "detection",
    "labels": ["person"],
    "species": [],
    "min_score": 0.5,
    "sites": [3],
    "channels": ["email", "telegram"],
    "zones": [{"camera": 7, "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}],
    "hours": [20, 6],
    "min_group_size": 2,
    "cooldown_min": 30,
    "rare_days": 14,
    "project": 1,
    "id": 99,
    "owner": "ann",
}


def rejected(body: dict[str, Any], *, current: RuleBody | None = None) -> str:
    """The field a body is rejected for."""
    with pytest.raises(RuleError) as caught:
        parse_rule(body, current=current)
    assert str(caught.value).startswith(f"{caught.value.field}: ")
    return caught.value.field


def detection(**settings: Any) -> dict[str, Any]:
    return {"name": "r", **settings}


# --- every kind parsed ---------------------------------------------------------------------------------


def test_detection_rule_from_the_api_example() -> None:
    assert parse_rule(GATE) == RuleBody(
        name="people at the gate",
        kind="detection",
        channels=("email", "telegram"),
        enabled=True,
        settings=DetectionRule(
            labels=frozenset({"person"}),
            species=(),
            min_score=0.5,
            sites=frozenset({3}),
            zones=(Zone(7, ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))),),
            hours=(20, 6),
            min_group_size=2,
            cooldown_min=30,
            rare_days=14,
        ),
    )


def test_defaults_of_a_new_rule() -> None:
    assert parse_rule({"name": "  anything  "}) == RuleBody("anything", "detection", ("email",), True, DetectionRule())


@pytest.mark.parametrize(
    ("body", "settings"),
    [
        ({"kind": "camera_health"}, CameraHealthRule()),
        (
            {"kind": "camera_health", "battery_below_pct": None, "sd_above_pct": 80, "silent": False, "at": "06:15"},
            CameraHealthRule(battery_below_pct=None, sd_above_pct=80, silent=False, at=time(6, 15)),
        ),
        ({"kind": "project", "max_images_per_camera_day": 200, "silent_hours": 24}, ProjectRule(200, 24)),
        ({"kind": "theft_watch", "sensitivity": "high"}, TheftWatchRule("high")),
        (
            {"kind": "reminder", "on": "2025-02-28", "message": " Change the batteries at the pond ", "at": "9:05"},
            ReminderRule(date(2025, 2, 28), "Change the batteries at the pond", time(9, 5)),
        ),
        ({"kind": "digest", "at": "23:59"}, DigestRule(time(23, 59))),
        ({"kind": "species_report", "period": "monthly"}, SpeciesReportRule("monthly", time(7, 0))),
        ({"kind": "species_report"}, SpeciesReportRule("weekly", time(7, 0))),
    ],
)
def test_every_kind_parses(body: dict[str, Any], settings: Any) -> None:
    rule = parse_rule({"name": "r", "enabled": False, **body})
    assert rule.kind == body["kind"]
    assert rule.enabled is False
    assert rule.settings == settings


def test_species_are_kept_as_typed_but_trimmed() -> None:
    rule = parse_rule(detection(species=[" any deer ", "Vulpes vulpes"], labels=["animal", "animal"]))
    assert rule.settings == DetectionRule(labels=frozenset({"animal"}), species=("any deer", "Vulpes vulpes"))


def test_hours_may_end_at_midnight_and_be_cleared() -> None:
    assert parse_rule(detection(hours=[18, 24])).settings == DetectionRule(hours=(18, 24))
    assert parse_rule(detection(hours=[18, 0])).settings == DetectionRule(hours=(18, 0))
    assert parse_rule(detection(hours=None)).settings == DetectionRule(hours=None)


def test_scores_at_the_edges() -> None:
    assert parse_rule(detection(min_score=0)).settings == DetectionRule(min_score=0.0)
    assert parse_rule(detection(min_score=1)).settings == DetectionRule(min_score=1.0)


# --- every mistake rejected, naming its field -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": 5}, "name"),
        ({"kind": "sms"}, "kind"),
        ({"kind": ["detection"]}, "kind"),
        ({"channels": []}, "channels"),
        ({"channels": "email"}, "channels"),
        ({"channels": ["email", "sms"]}, "channels[1]"),
        ({"channels": ["telegram", "telegram"]}, "channels[1]"),
        ({"enabled": 1}, "enabled"),
        ({"enabled": "yes"}, "enabled"),
        ({"colour": "red"}, "colour"),
        ({"labels": ["animal", "bird"]}, "labels[1]"),
        ({"labels": "person"}, "labels"),
        ({"species": ["deer", ""]}, "species[1]"),
        ({"species": [3]}, "species[0]"),
        ({"min_score": 1.01}, "min_score"),
        ({"min_score": -0.1}, "min_score"),
        ({"min_score": True}, "min_score"),
        ({"min_score": "0.5"}, "min_score"),
        ({"min_score": float("nan")}, "min_score"),
        ({"sites": [3, "4"]}, "sites[1]"),
        ({"sites": [0]}, "sites[0]"),
        ({"sites": [True]}, "sites[0]"),
        ({"zones": {"camera": 7}}, "zones"),
        ({"zones": ["gate"]}, "zones[0]"),
        ({"zones": [{"polygon": [[0, 0], [1, 0], [1, 1]]}]}, "zones[0].camera"),
        ({"zones": [{"camera": 7}]}, "zones[0].polygon"),
        ({"zones": [{"camera": "7", "polygon": [[0, 0], [1, 0], [1, 1]]}]}, "zones[0].camera"),
        ({"zones": [{"camera": 7, "polygon": [[0, 0], [1, 0], [1, 1]], "name": "gate"}]}, "zones[0].name"),
        ({"zones": [{"camera": 7, "polygon": [[0, 0], [1, 1]]}]}, "zones[0].polygon"),
        ({"zones": [{"camera": 7, "polygon": [[0, 0], [1, 0], [1, 1.5]]}]}, "zones[0].polygon"),
        ({"zones": [{"camera": 7, "polygon": [[0, 0], [1, 0], [-0.1, 1]]}]}, "zones[0].polygon"),
        ({"zones": [{"camera": 7, "polygon": [[0, 0], [1, 0], [1]]}]}, "zones[0].polygon"),
        ({"zones": [{"camera": 7, "polygon": [[0, 0], [1, 0], [1, True]]}]}, "zones[0].polygon"),
        (
            {"zones": [{"camera": 7, "polygon": [[0, 0], [1, 0], [1, 1]]}, {"camera": 8, "polygon": []}]},
            "zones[1].polygon",
        ),
        ({"hours": [20]}, "hours"),
        ({"hours": [20, 6, 1]}, "hours"),
        ({"hours": [24, 6]}, "hours"),
        ({"hours": [20, 25]}, "hours"),
        ({"hours": [-1, 6]}, "hours"),
        ({"hours": [6, 6]}, "hours"),
        ({"hours": [0, 24]}, "hours"),
        ({"hours": [20.5, 6]}, "hours"),
        ({"hours": "20-6"}, "hours"),
        ({"min_group_size": 0}, "min_group_size"),
        ({"min_group_size": 2.0}, "min_group_size"),
        ({"cooldown_min": -1}, "cooldown_min"),
        ({"rare_days": -7}, "rare_days"),
        ({"rare_days": None}, "rare_days"),
        ({"battery_below_pct": 20}, "battery_below_pct"),  # a camera_health setting on a detection rule
    ],
)
def test_detection_mistakes(body: dict[str, Any], field: str) -> None:
    assert rejected({"name": "r", **body}) == field


@pytest.mark.parametrize(
    ("kind", "body", "field"),
    [
        ("camera_health", {"battery_below_pct": 101}, "battery_below_pct"),
        ("camera_health", {"battery_below_pct": -1}, "battery_below_pct"),
        ("camera_health", {"sd_above_pct": 90.5}, "sd_above_pct"),
        ("camera_health", {"silent": "yes"}, "silent"),
        ("camera_health", {"at": "24:00"}, "at"),
        ("camera_health", {"at": "08:60"}, "at"),
        ("camera_health", {"at": "8 am"}, "at"),
        ("camera_health", {"at": 800}, "at"),
        ("camera_health", {"labels": ["person"]}, "labels"),
        ("project", {"max_images_per_camera_day": 0}, "max_images_per_camera_day"),
        ("project", {"silent_hours": -5}, "silent_hours"),
        ("project", {"silent_hours": False}, "silent_hours"),
        ("theft_watch", {"sensitivity": "paranoid"}, "sensitivity"),
        ("theft_watch", {"sensitivity": None}, "sensitivity"),
        ("reminder", {"message": "x"}, "on"),
        ("reminder", {"on": "2025-06-01"}, "message"),
        ("reminder", {"on": "2025-02-30", "message": "x"}, "on"),
        ("reminder", {"on": "20250601", "message": "x"}, "on"),
        ("reminder", {"on": "2025-06-01T08:00", "message": "x"}, "on"),
        ("reminder", {"on": "2025-06-01", "message": ""}, "message"),
        ("reminder", {"on": "2025-06-01", "message": "x" * 1001}, "message"),
        ("reminder", {"on": "2025-06-01", "message": "x", "at": "7"}, "at"),
        ("digest", {"at": None}, "at"),
        ("digest", {"period": "weekly"}, "period"),
        ("species_report", {"period": "daily"}, "period"),
        ("species_report", {"period": "yearly"}, "period"),
    ],
)
def test_mistakes_of_other_kinds(kind: str, body: dict[str, Any], field: str) -> None:
    assert rejected({"name": "r", "kind": kind, **body}) == field


def test_limits_are_inclusive() -> None:
    assert parse_rule({"name": "x" * 200}).name == "x" * 200
    reminder = parse_rule({"name": "r", "kind": "reminder", "on": "2024-02-29", "message": "m" * 1000})
    assert reminder.settings == ReminderRule(date(2024, 2, 29), "m" * 1000)


def test_error_reads_as_field_then_message() -> None:
    with pytest.raises(RuleError, match=r"^min_score: must be between 0 and 1, got 2$"):
        parse_rule({"name": "r", "min_score": 2})
    with pytest.raises(RuleError, match=r"^zones\[0\]\.polygon: point 2: must be between 0 and 1"):
        parse_rule({"name": "r", "zones": [{"camera": 1, "polygon": [[0, 0], [1, 0], [1, 2]]}]})


def test_a_new_rule_needs_a_name() -> None:
    assert rejected({"kind": "digest"}) == "name"


def test_a_body_that_is_not_an_object() -> None:
    assert rejected(["name"]) == "body"  # type: ignore[arg-type]


# --- PATCH ---------------------------------------------------------------------------------------------


def test_patch_changes_only_the_keys_present() -> None:
    current = parse_rule(GATE)
    patched = parse_rule({"min_score": 0.8, "hours": None, "enabled": False}, current=current)
    assert patched.name == current.name
    assert patched.channels == current.channels
    assert patched.enabled is False
    assert isinstance(current.settings, DetectionRule)
    assert patched.settings == DetectionRule(
        labels=current.settings.labels,
        min_score=0.8,
        sites=current.settings.sites,
        zones=current.settings.zones,
        hours=None,
        min_group_size=2,
        cooldown_min=30,
        rare_days=14,
    )


def test_empty_patch_changes_nothing() -> None:
    current = parse_rule(GATE)
    assert parse_rule({}, current=current) == current
    assert parse_rule({"id": 5, "project": 2}, current=current) == current


def test_patch_keeps_the_required_fields_of_a_reminder() -> None:
    current = parse_rule({"name": "r", "kind": "reminder", "on": "2025-06-01", "message": "batteries"})
    patched = parse_rule({"at": "18:30", "kind": "reminder"}, current=current)
    assert patched.settings == ReminderRule(date(2025, 6, 1), "batteries", time(18, 30))


def test_patch_cannot_change_the_kind() -> None:
    current = parse_rule(GATE)
    assert rejected({"kind": "digest"}, current=current) == "kind"
    assert rejected({"kind": "bogus"}, current=current) == "kind"


def test_patch_is_validated_like_a_new_rule() -> None:
    current = parse_rule(GATE)
    assert rejected({"name": ""}, current=current) == "name"
    assert rejected({"channels": ["email", "email"]}, current=current) == "channels[1]"
    assert rejected({"sensitivity": "low"}, current=current) == "sensitivity"
    assert rejected({"zones": [{"camera": 7, "polygon": [[0, 0]]}]}, current=current) == "zones[0].polygon"


# --- JSON both ways ------------------------------------------------------------------------------------

ALL_KINDS: list[dict[str, Any]] = [
    GATE,
    {"name": "any deer", "species": ["any deer", "Alces alces"], "rare_days": 30, "channels": ["telegram"]},
    {"name": "health", "kind": "camera_health", "battery_below_pct": None, "at": "06:00"},
    {"name": "busy", "kind": "project", "max_images_per_camera_day": 75},
    {"name": "theft", "kind": "theft_watch", "sensitivity": "low", "enabled": False},
    {"name": "memo", "kind": "reminder", "on": "2026-01-31", "message": "Collect the SD cards", "at": "07:45"},
    {"name": "morning", "kind": "digest"},
    {"name": "monthly species", "kind": "species_report", "period": "monthly", "at": "06:00"},
]


@pytest.mark.parametrize("body", ALL_KINDS, ids=lambda body: str(body["name"]))
def test_round_trip(body: dict[str, Any]) -> None:
    rule = parse_rule(body)
    assert parse_rule(rule_json(rule)) == rule
    assert rule_json(parse_rule(rule_json(rule))) == rule_json(rule)


def test_rule_json_is_flat_and_plain() -> None:
    rule = parse_rule({**GATE, "labels": ["vehicle", "person"], "sites": [9, 3]})
    assert rule_json(rule) == {
        "name": "people at the gate",
        "kind": "detection",
        "channels": ["email", "telegram"],
        "enabled": True,
        "labels": ["person", "vehicle"],
        "species": [],
        "min_score": 0.5,
        "sites": [3, 9],
        "zones": [{"camera": 7, "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]}],
        "hours": [20, 6],
        "min_group_size": 2,
        "cooldown_min": 30,
        "rare_days": 14,
    }


def test_settings_json_holds_only_the_kind_specific_part() -> None:
    rule = parse_rule({"name": "memo", "kind": "reminder", "on": "2026-01-31", "message": "m"})
    assert settings_json(rule.settings) == {"on": "2026-01-31", "message": "m", "at": "08:00"}
    assert settings_from_json("reminder", settings_json(rule.settings)) == rule.settings
    assert settings_json(CameraHealthRule()) == {
        "battery_below_pct": 20,
        "sd_above_pct": 90,
        "silent": True,
        "at": "08:00",
    }


def test_settings_from_json_for_every_kind_and_old_rows() -> None:
    for body in ALL_KINDS:
        rule = parse_rule(body)
        assert settings_from_json(rule.kind, settings_json(rule.settings)) == rule.settings
    assert settings_from_json("digest", {}) == DigestRule()  # a row stored before a field existed
    with pytest.raises(RuleError) as caught:
        settings_from_json("carrier_pigeon", {})
    assert caught.value.field == "kind"
