"""Trap days and independent detections, as the species report counts them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from addax.domain.species_report import ActiveSpan, SpeciesEvent, SpeciesRow, species_rows, trap_days

START = datetime(2024, 6, 3, tzinfo=UTC)
END = START + timedelta(days=7)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


def event(
    minute: int,
    taxon: str = "Capreolus capreolus",
    camera: int = 1,
    count: int = 1,
    score: float = 0.8,
    image: int | None = None,
    common: str | None = "roe deer",
) -> SpeciesEvent:
    return SpeciesEvent(taxon, common, camera, START + timedelta(minutes=minute), count, image, score)


# --- trap days -----------------------------------------------------------------------------------------


def test_trap_days_clip_to_the_window() -> None:
    spans = [
        ActiveSpan(1, day(-10), day(2.5)),  # 2.5 days inside
        ActiveSpan(2, day(6), day(30)),  # 1 day inside
        ActiveSpan(3, day(-5), day(-1)),  # before
        ActiveSpan(4, day(8), None),  # after
    ]
    assert trap_days(spans, START, END) == pytest.approx(3.5)


def test_open_deployments_count_until_the_window_ends() -> None:
    assert trap_days([ActiveSpan(1, day(-3), None), ActiveSpan(2, day(4), None)], START, END) == pytest.approx(10.0)


def test_overlapping_spans_of_one_camera_count_once() -> None:
    spans = [
        ActiveSpan(1, day(0), day(3)),
        ActiveSpan(1, day(2), day(4)),  # overlaps the first
        ActiveSpan(1, day(1), day(1.5)),  # inside the first
        ActiveSpan(1, day(5), None),  # a later, open one
        ActiveSpan(1, day(6), day(6.5)),  # inside the open one
    ]
    assert trap_days(spans, START, END) == pytest.approx(4 + 2)


def test_spans_of_different_cameras_add_up() -> None:
    spans = [ActiveSpan(1, day(0), day(3)), ActiveSpan(2, day(0), day(3)), ActiveSpan(1, day(3), day(4))]
    assert trap_days(spans, START, END) == pytest.approx(3 + 3 + 1)  # touching spans join


def test_no_trap_days() -> None:
    assert trap_days([], START, END) == 0.0
    assert trap_days([ActiveSpan(1, day(3), day(3))], START, END) == 0.0


# --- independent detections ----------------------------------------------------------------------------


def test_events_closer_than_the_interval_to_the_last_counted_one_are_not_independent() -> None:
    # 0 counted; 10, 25 within 30 min of it; 30 counted (30 min after 0); 59 not; 61 counted; 200 counted.
    rows = species_rows([event(m) for m in (0, 10, 25, 30, 59, 61, 200)], trap_days=10)
    assert rows[0].events == 7
    assert rows[0].independent == 4


def test_a_chain_of_close_events_is_measured_from_the_counted_one() -> None:
    # Every event is 20 min after the previous, but 0 and 40 and 80 are 40 min apart: three detections.
    assert species_rows([event(m) for m in (0, 20, 40, 60, 80)], trap_days=1)[0].independent == 3


def test_independence_is_per_camera_and_per_species() -> None:
    events = [
        event(0, camera=1),
        event(5, camera=2),
        event(10, camera=1, taxon="Vulpes vulpes", common="red fox"),
        event(15, camera=1),
    ]
    rows = {row.taxon: row for row in species_rows(events, trap_days=1)}
    assert rows["Capreolus capreolus"].independent == 2
    assert rows["Vulpes vulpes"].independent == 1


def test_independence_interval_is_a_parameter() -> None:
    events = [event(m) for m in (0, 10, 20, 65)]
    assert species_rows(events, trap_days=1, independence_min=10)[0].independent == 4
    assert species_rows(events, trap_days=1, independence_min=60)[0].independent == 2


def test_events_need_not_come_in_order() -> None:
    assert species_rows([event(m) for m in (61, 0, 30, 10)], trap_days=1)[0].independent == 3


def test_individuals_are_the_largest_group_of_each_detection() -> None:
    events = [event(0, count=1), event(5, count=3), event(10, count=2), event(45, count=2), event(50, count=1)]
    assert species_rows(events, trap_days=1)[0].individuals == 3 + 2


def test_rate_per_100_trap_days() -> None:
    rows = species_rows([event(m) for m in (0, 60, 120)], trap_days=12.5)
    assert rows[0].per_100_trap_days == pytest.approx(24.0)
    assert species_rows([event(0)], trap_days=0)[0].per_100_trap_days == 0.0


def test_best_image_is_the_highest_score_with_an_image() -> None:
    events = [event(0, score=0.7, image=11), event(60, score=0.95, image=None), event(120, score=0.9, image=12)]
    row = species_rows(events, trap_days=1)[0]
    assert (row.best_image_id, row.best_score) == (12, 0.95)
    row = species_rows([event(0, image=None)], trap_days=1)[0]
    assert row.best_image_id is None


def test_rows_are_sorted_by_independent_detections_then_taxon() -> None:
    events = [
        *(event(m, taxon="Vulpes vulpes", common="red fox") for m in (0, 60)),
        *(event(m, taxon="Sus scrofa", common=None) for m in (0, 60)),
        *(event(m) for m in (0, 60, 120)),
        event(0, taxon="Meles meles", common="badger"),
    ]
    rows = species_rows(events, trap_days=10)
    assert [row.taxon for row in rows] == ["Capreolus capreolus", "Sus scrofa", "Vulpes vulpes", "Meles meles"]
    assert rows[0] == SpeciesRow(
        taxon="Capreolus capreolus",
        common_name="roe deer",
        events=3,
        independent=3,
        individuals=3,
        per_100_trap_days=pytest.approx(30.0),  # type: ignore[arg-type]
        best_image_id=None,
        best_score=0.8,
    )
    assert rows[1].common_name is None


def test_common_name_is_the_first_one_known() -> None:
    events = [event(0, common=None), event(60, common="roe deer")]
    assert species_rows(events, trap_days=1)[0].common_name == "roe deer"


def test_no_events_no_rows() -> None:
    assert species_rows([], trap_days=10) == []
