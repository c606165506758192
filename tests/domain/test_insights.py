"""The insights figures against numbers worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from addax.domain.insights import (
    Sighting,
    activity_overlap,
    bessel_i,
    bucket_labels,
    by_hour,
    class_scores,
    confusion,
    csv_text,
    daylight,
    delta1,
    delta4,
    detection_rates,
    group_sizes,
    kernel_density,
    naive_occupancy,
    pivot,
    taylor_concentration,
)
from addax.domain.species_report import ActiveSpan

START = datetime(2024, 6, 3, tzinfo=UTC)


def test_pivot_fills_zeros_and_puts_the_largest_series_first() -> None:
    table = pivot([("fox", "2024-06-03", 1), ("deer", "2024-06-03", 2), ("deer", "2024-06-10", 3)])
    assert table.columns == ["2024-06-03", "2024-06-10"]
    assert table.series == {"deer": [2, 3], "fox": [1, 0]}
    assert table.rows()[-1] == ("fox", "2024-06-10", 0)


def test_bucket_labels_cover_the_period_with_its_gaps() -> None:
    assert bucket_labels(date(2024, 6, 5), date(2024, 6, 17), "week") == ["2024-06-03", "2024-06-10", "2024-06-17"]
    assert bucket_labels(date(2024, 6, 29), date(2024, 7, 1), "day") == ["2024-06-29", "2024-06-30", "2024-07-01"]


def test_hours_and_group_sizes_have_every_column() -> None:
    hours = by_hour([("fox", 23, 4), ("fox", 0, 1)])
    assert len(hours.columns) == 24 and hours.series["fox"][0] == 1 and hours.series["fox"][23] == 4
    sizes = group_sizes([("boar", 4, 1), ("boar", 1, 5)])
    assert sizes.columns == ["1", "2", "3", "4"] and sizes.series == {"boar": [5, 0, 0, 1]}
    assert pivot([]).empty and group_sizes([]).columns == []


def test_csv_has_a_header_and_the_numbers() -> None:
    assert csv_text(["species", "rate"], [("fox", 1 / 3), ("deer", 2)]) == "species,rate\nfox,0.3333\ndeer,2\n"


def test_daylight_at_the_equator_at_the_equinox_is_twelve_hours() -> None:
    sunrise, sunset = daylight(0.0, 0.0, 0, 80)
    assert sunrise == pytest.approx(6.0, abs=0.2) and sunset == pytest.approx(18.1, abs=0.2)


def test_daylight_in_central_europe_in_june() -> None:
    # Berlin (52.5 N, 13.4 E, UTC+2) on 21 June: sunrise 04:43, sunset 21:33
    sunrise, sunset = daylight(52.5, 13.4, 120, 172)
    assert sunrise == pytest.approx(4 + 43 / 60, abs=0.1) and sunset == pytest.approx(21 + 33 / 60, abs=0.1)


def test_polar_day_and_night() -> None:
    assert daylight(78.0, 15.0, 60, 172) == (0.0, 24.0)
    assert daylight(78.0, 15.0, 60, 355) == (12.0, 12.0)


def test_detection_rates_per_site_with_the_independence_interval() -> None:
    def seen(minute: int, site: str = "North", taxon: str = "deer", camera: int = 1) -> Sighting:
        return Sighting(taxon, site, camera, START + timedelta(minutes=minute), 1)

    spans = {
        "North": [ActiveSpan(1, START, START + timedelta(days=10))],
        "South": [ActiveSpan(2, START, START + timedelta(days=5)), ActiveSpan(3, START, START + timedelta(days=5))],
    }
    sightings = [seen(0), seen(10), seen(40), seen(0, "South", camera=2), seen(5, "South", "fox", camera=3)]
    rates = detection_rates(sightings, spans, (START, START + timedelta(days=20)), independence_min=30)
    # North: 0 and 40 are independent, 10 belongs to 0: 2 detections in 10 trap-days = 20 per 100
    # South: 10 trap-days (two cameras, 5 days each), one deer and one fox = 10 per 100 each
    assert [(r.site, r.taxon, r.independent, r.trap_days, r.per_100_trap_days) for r in rates] == [
        ("North", "deer", 2, 10.0, pytest.approx(20.0)),
        ("South", "deer", 1, 10.0, pytest.approx(10.0)),
        ("South", "fox", 1, 10.0, pytest.approx(10.0)),
    ]
    longer = detection_rates(sightings, spans, (START, START + timedelta(days=20)), independence_min=60)
    assert longer[0].independent == 1


def test_a_site_without_trap_days_has_rate_zero() -> None:
    rates = detection_rates([Sighting("fox", "Nowhere", 9, START, 1)], {}, (START, START + timedelta(days=1)))
    assert [(r.independent, r.trap_days, r.per_100_trap_days) for r in rates] == [(1, 0.0, 0.0)]


def test_naive_occupancy() -> None:
    rows = naive_occupancy({"fox": ["A"], "deer": ["A", "B", "B"]}, ["A", "B", "C", "D"])
    assert [(r.taxon, r.sites_detected, r.sites_surveyed, r.naive) for r in rows] == [
        ("deer", 2, 4, 0.5),
        ("fox", 1, 4, 0.25),
    ]
    assert naive_occupancy({"fox": ["E"]}, [])[0].naive == 1.0


# --- activity overlap -----------------------------------------------------------------------------------


def test_bessel_functions_match_tables() -> None:
    assert bessel_i(0, 1.0) == pytest.approx(1.266066, abs=1e-6)
    assert bessel_i(1, 1.0) == pytest.approx(0.565159, abs=1e-6)
    assert bessel_i(2, 2.0) == pytest.approx(0.688948, abs=1e-6)


def test_taylor_rule_by_hand() -> None:
    # (3 · 10 · 1² · I2(2) / (4 √π I0(1)²))^(2/5) = (20.66844 / 11.36443)^0.4 = 1.27028
    assert taylor_concentration(1.0, 10) == pytest.approx(1.27028, abs=1e-4)


def test_kernel_density_integrates_to_one_and_wraps_around_midnight() -> None:
    grid = np.arange(512) * 2 * math.pi / 512
    samples = np.array([0.05, 2 * math.pi - 0.05])
    density = kernel_density(grid, samples, np.ones(2), 20.0)
    assert density.sum() * 2 * math.pi / 512 == pytest.approx(1.0, abs=1e-6)
    assert np.argmax(density) in (0, 511)  # the peak is at midnight, between the two records


def test_delta1_of_step_densities() -> None:
    # uniform 1/2π against 1/π on the first half of the day: the lower curve is 1/2π over π, area 1/2
    uniform = np.full(512, 1 / (2 * math.pi))
    first_half = np.where(np.arange(512) < 256, 1 / math.pi, 0.0)
    assert delta1(uniform, first_half) == pytest.approx(0.5)
    assert delta1(uniform, uniform) == pytest.approx(1.0)


def test_delta4_by_hand() -> None:
    # first sample: min(1, 0.5/1) and min(1, 2/1) -> 0.75; second sample: min(1, 1/1) -> 1; Δ4 = 0.875
    ones = np.ones(2)
    assert delta4(ones, np.array([0.5, 2.0]), ones, np.ones(1), np.ones(1), np.ones(1)) == pytest.approx(0.875)
    # weights count records: the 0.5 record twice -> (0.5 + 0.5 + 1) / 3
    weights = np.array([2.0, 1.0])
    assert delta4(ones, np.array([0.5, 2.0]), weights, np.ones(1), np.ones(1), np.ones(1)) == pytest.approx(
        (2 / 3 + 1) / 2
    )


def test_overlap_of_the_same_activity_is_one_and_of_day_and_night_is_small() -> None:
    dusk = {19.0: 3, 20.5: 5, 22.0: 2}
    same = activity_overlap(dusk, dusk)
    assert same is not None and same.estimator == "Δ1" and same.coefficient == pytest.approx(1.0, abs=1e-9)
    noon = {11.0: 4, 12.0: 6, 13.0: 3}
    night = {23.0: 4, 0.0: 6, 1.0: 3}
    apart = activity_overlap(noon, night)
    assert apart is not None and apart.coefficient < 0.1
    assert sum(apart.first) * 24 / 512 == pytest.approx(1.0, abs=1e-6)  # a density per hour


def test_overlap_uses_delta4_for_large_samples_and_needs_two_records() -> None:
    rng = np.random.default_rng(7)
    many = {float(h): int(n) for h, n in zip(rng.uniform(0, 24, 80).round(2), rng.integers(1, 3, 80), strict=True)}
    result = activity_overlap(many, many)
    assert result is not None and result.estimator == "Δ4" and result.coefficient == pytest.approx(1.0)
    assert activity_overlap({3.0: 1}, many) is None


# --- model performance ----------------------------------------------------------------------------------


def test_confusion_matrix_and_precision_recall_by_hand() -> None:
    table = confusion([("deer", "deer", 8), ("deer", "fox", 2), ("fox", "fox", 3), ("(blank)", "deer", 1)])
    assert table.labels == ["deer", "fox", "(blank)"]
    assert table.matrix == [[8, 2, 0], [0, 3, 0], [1, 0, 0]]  # rows: verified, columns: the model
    scores = {score.label: score for score in class_scores(table)}
    assert scores["deer"].precision == pytest.approx(8 / 9) and scores["deer"].recall == pytest.approx(8 / 10)
    assert scores["fox"].precision == pytest.approx(3 / 5) and scores["fox"].recall == 1.0
    assert scores["(blank)"].precision is None and scores["(blank)"].recall == 0.0
    assert table.cells() == [("deer", "deer", 8), ("deer", "fox", 2), ("fox", "fox", 3), ("(blank)", "deer", 1)]
    assert confusion([]).empty
