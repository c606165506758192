"""Retention decisions: blanks, people and vehicles after their days; animals, unknowns and young photos kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from addax.domain.retention import PhotoFacts, RetentionError, RetentionRules, decide

NOW = datetime(2025, 6, 1, 12, tzinfo=UTC)
RULES = RetentionRules(blank_days=30, person_days=7, vehicle_days=90)


def photo(*labels: str, days: float = 100, stage: str = "done", blur_all: bool = False) -> PhotoFacts:
    return PhotoFacts(frozenset(labels), NOW - timedelta(days=days), stage, blur_all)


@pytest.mark.parametrize(
    ("facts", "delete", "why"),
    [
        (photo(), True, "blank, older than 30 days"),
        (photo(days=29.9), False, "blank: younger than 30 days"),
        (photo("animal"), False, "animal: kept forever"),
        (photo("animal", "person"), False, "animal: kept forever"),
        (photo("person", days=8), True, "person, older than 7 days"),
        (photo("vehicle", days=8), False, "vehicle: younger than 90 days"),
        (photo("person", "vehicle", days=8), False, "vehicle: younger than 90 days"),
        (photo("person", "vehicle", days=91), True, "person, older than 7 days and vehicle, older than 90 days"),
        (photo(stage="classified"), False, "not fully processed"),
        (photo(blur_all=True), False, "detection failed: not known to be blank"),
    ],
)
def test_decisions(facts: PhotoFacts, delete: bool, why: str) -> None:
    decision = decide(RULES, facts, NOW)
    assert (decision.delete, decision.why) == (delete, why)


def test_unset_rules_keep_forever() -> None:
    only_blanks = RetentionRules(blank_days=1)
    assert decide(only_blanks, photo("person", days=10_000), NOW).why == "person: kept forever"
    assert decide(RetentionRules(), photo(days=10_000), NOW).delete is False
    assert (RetentionRules().any, only_blanks.any, RULES.shortest_days) == (False, True, 7)


@pytest.mark.parametrize("days", [0, -5])
def test_days_must_be_positive(days: int) -> None:
    with pytest.raises(RetentionError, match="retention blank days must be at least 1"):
        RetentionRules(blank_days=days)
