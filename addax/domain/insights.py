"""The figures of the insights page, computed from what the store has already aggregated.

Every figure is built on the *effective* species of a photo: what a person verified wins over what the models said.
The store hands over small aggregates (counts per bucket, per hour, per minute of the day); these functions shape
them into the numbers a chart shows and its CSV holds, so that both are the same numbers.

Activity overlap follows Ridout & Linkie (2009): each species' activity is a von Mises kernel density on the 24-hour
circle, and the overlap coefficient is Δ̂1 (the area under the lower of the two curves) for small samples, or Δ̂4
(a mean over the observed times) once the smaller sample reaches 75 records (Meredith & Ridout's advice).
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import numpy.typing as npt

from addax.domain.species_report import ActiveSpan, SpeciesEvent, species_rows, trap_days

Floats = npt.NDArray[np.float64]

NO_SPECIES = "(blank)"  # a photo or box without a species, in the confusion matrix
MISSED = "(missed by the model)"  # a box a person added
REMOVED = "(not there)"  # a model box a person took away
GRID_POINTS = 512
DELTA4_MIN_SAMPLE = 75
MAX_CONCENTRATION = 500.0  # beyond this a von Mises kernel is a spike, and I0 overflows soon after


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 and value != 0 else round(value, 4)
    return value


# --- counts over time, by hour, group sizes ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of a chart: one category axis (``columns``) and one series per key, zeros filled in."""

    columns: list[str]
    series: dict[str, list[int]]

    @property
    def empty(self) -> bool:
        return not self.series

    def rows(self) -> list[tuple[str, str, int]]:
        """(series, column, value) for every cell, the CSV of the chart."""
        return [
            (key, column, values[i]) for key, values in self.series.items() for i, column in enumerate(self.columns)
        ]


def pivot(cells: Iterable[tuple[str, str, int]], columns: Sequence[str] | None = None) -> Table:
    """(series, column, count) cells as a table; series ordered by their total, largest first."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    seen: set[str] = set()
    for key, column, count in cells:
        counts[key][column] = counts[key].get(column, 0) + count
        seen.add(column)
    axis = list(columns) if columns is not None else sorted(seen)
    order = sorted(counts, key=lambda key: (-sum(counts[key].values()), key))
    return Table(columns=axis, series={key: [counts[key].get(column, 0) for column in axis] for key in order})


def bucket_labels(first: date, last: date, unit: str) -> list[str]:
    """The buckets of a period as the store labels them (day, or the Monday of each ISO week), gaps included."""
    step = timedelta(days=7 if unit == "week" else 1)
    day = first - timedelta(days=first.weekday()) if unit == "week" else first
    labels = []
    while day <= last:
        labels.append(day.isoformat())
        day += step
    return labels


def by_hour(cells: Iterable[tuple[str, int, int]]) -> Table:
    """(species, local hour 0-23, photos) as 24 columns per species."""
    return pivot(((taxon, f"{hour:02d}", count) for taxon, hour, count in cells), [f"{h:02d}" for h in range(24)])


def group_sizes(cells: Iterable[tuple[str, int, int]]) -> Table:
    """(species, individuals in a photo, photos) as a distribution from 1 to the largest group seen."""
    listed = list(cells)
    largest = max((size for _, size, _ in listed), default=0)
    return pivot(((taxon, str(size), count) for taxon, size, count in listed), [str(n) for n in range(1, largest + 1)])


# --- day and night ----------------------------------------------------------------------------------------


def daylight(latitude: float, longitude: float, utc_offset_minutes: float, day_of_year: int) -> tuple[float, float]:
    """Sunrise and sunset in camera-local hours (NOAA's approximation, a few minutes off at most).

    Polar day gives (0, 24), polar night (12, 12).
    """
    declination = math.radians(23.44) * math.sin(math.radians(360 / 365 * (284 + day_of_year)))
    b = math.radians(360 / 365 * (day_of_year - 81))
    equation_of_time_min = 9.87 * math.sin(2 * b) - 7.53 * math.cos(b) - 1.5 * math.sin(b)
    noon = 12 - longitude / 15 + utc_offset_minutes / 60 - equation_of_time_min / 60
    phi = math.radians(latitude)
    cos_h = (math.sin(math.radians(-0.833)) - math.sin(phi) * math.sin(declination)) / (
        math.cos(phi) * math.cos(declination)
    )
    if cos_h <= -1:
        return 0.0, 24.0
    if cos_h >= 1:
        return 12.0, 12.0
    half_day = math.degrees(math.acos(cos_h)) / 15
    return (noon - half_day) % 24, (noon + half_day) % 24


# --- detections per 100 trap-days, occupancy ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sighting:
    """A species at a site at one moment (the store merges the photos of one camera within a minute)."""

    taxon: str
    site: str
    camera_id: int
    at: datetime
    individuals: int


@dataclass(frozen=True, slots=True)
class Rate:
    site: str
    taxon: str
    independent: int
    trap_days: float
    per_100_trap_days: float


def detection_rates(
    sightings: Sequence[Sighting],
    spans_by_site: Mapping[str, Sequence[ActiveSpan]],
    window: tuple[datetime, datetime],
    independence_min: int = 30,
) -> list[Rate]:
    """Independent detections per species per site, per 100 trap-days of that site's cameras in the window.

    A site with sightings but no deployment in the window has no trap-days: its rate is 0, not infinite.
    """
    by_site: dict[str, list[SpeciesEvent]] = defaultdict(list)
    for sighting in sightings:
        by_site[sighting.site].append(
            SpeciesEvent(sighting.taxon, None, sighting.camera_id, sighting.at, sighting.individuals, None, 0.0)
        )
    rates = []
    for site in sorted(by_site):
        days = trap_days(spans_by_site.get(site, ()), *window)
        for row in species_rows(by_site[site], days, independence_min):
            rates.append(Rate(site, row.taxon, row.independent, days, row.per_100_trap_days))
    return rates


@dataclass(frozen=True, slots=True)
class Occupancy:
    taxon: str
    sites_detected: int
    sites_surveyed: int

    @property
    def naive(self) -> float:
        return self.sites_detected / self.sites_surveyed if self.sites_surveyed else 0.0


def naive_occupancy(sites_by_taxon: Mapping[str, Iterable[str]], surveyed: Iterable[str]) -> list[Occupancy]:
    """Sites where the species was seen ÷ sites surveyed (a detection at an unsurveyed site makes it surveyed)."""
    surveyed_sites = set(surveyed)
    for sites in sites_by_taxon.values():
        surveyed_sites.update(sites)
    rows = [Occupancy(taxon, len(set(sites)), len(surveyed_sites)) for taxon, sites in sites_by_taxon.items()]
    rows.sort(key=lambda row: (-row.sites_detected, row.taxon))
    return rows


# --- activity overlap -----------------------------------------------------------------------------------


def bessel_i(order: int, x: float) -> float:
    """The modified Bessel function I_n(x) = 1/π ∫₀^π exp(x cos t) cos(n t) dt (numpy has I0 only)."""
    t = np.linspace(0.0, math.pi, 2049)
    values = np.exp(x * np.cos(t)) * np.cos(order * t)
    return float(np.trapezoid(values, t) / math.pi)


def von_mises_concentration(radians: Floats, weights: Floats) -> float:
    """The maximum-likelihood κ of a von Mises fit (Best & Fisher's approximation of A1⁻¹)."""
    total = weights.sum()
    r = math.hypot(float((weights * np.cos(radians)).sum()), float((weights * np.sin(radians)).sum())) / total
    if r < 0.53:
        kappa = 2 * r + r**3 + 5 * r**5 / 6
    elif r < 0.85:
        kappa = -0.4 + 1.39 * r + 0.43 / (1 - r)
    else:
        kappa = 1 / (r**3 - 4 * r**2 + 3 * r) if r < 1 else MAX_CONCENTRATION
    return float(min(kappa, MAX_CONCENTRATION))


def taylor_concentration(kappa: float, n: float) -> float:
    """The kernel's concentration by Taylor's (2008) rule of thumb, as Ridout & Linkie use it."""
    if kappa <= 0:
        return 1.0  # uniform activity: any smooth kernel gives the flat density
    value = 3 * n * kappa**2 * bessel_i(2, 2 * kappa) / (4 * math.sqrt(math.pi) * bessel_i(0, kappa) ** 2)
    return float(min(value ** (2 / 5), MAX_CONCENTRATION))


def kernel_density(at: Floats, radians: Floats, weights: Floats, concentration: float) -> Floats:
    """A weighted von Mises kernel density on the circle, evaluated at ``at`` (integrates to 1 over 2π)."""
    nu = min(concentration, MAX_CONCENTRATION)
    # exp(ν(cos-1)) / (2π I0(ν) e^-ν) keeps the exponent ≤ 0 for a large ν
    kernel = np.exp(nu * (np.cos(at[:, None] - radians[None, :]) - 1.0))
    scale = 2 * math.pi * float(np.i0(nu)) * math.exp(-nu)
    result: Floats = (kernel * weights[None, :]).sum(axis=1) / (weights.sum() * scale)
    return result


def delta1(f: Floats, g: Floats) -> float:
    """Δ̂1: the area under the lower of two densities sampled on an even grid over [0, 2π)."""
    return float(np.minimum(f, g).sum() * 2 * math.pi / len(f))


def delta4(
    f_at_x: Floats, g_at_x: Floats, x_weights: Floats, f_at_y: Floats, g_at_y: Floats, y_weights: Floats
) -> float:
    """Δ̂4: the mean of min(1, g/f) over the first sample and of min(1, f/g) over the second, averaged."""
    first = float((np.minimum(1.0, g_at_x / f_at_x) * x_weights).sum() / x_weights.sum())
    second = float((np.minimum(1.0, f_at_y / g_at_y) * y_weights).sum() / y_weights.sum())
    return (first + second) / 2


@dataclass(frozen=True, slots=True)
class Overlap:
    estimator: str  # "Δ1" or "Δ4"
    coefficient: float
    hours: list[float]  # the grid, in hours
    first: list[float]  # densities per hour (integrate to 1 over 24 h)
    second: list[float]


def activity_overlap(first: Mapping[float, int], second: Mapping[float, int]) -> Overlap | None:
    """The overlap of two species' activity from records per hour of the day (fractional hours → records).

    None when either species has fewer than two records: no density to speak of.
    """
    if sum(first.values()) < 2 or sum(second.values()) < 2:
        return None
    x, wx = _radians(first)
    y, wy = _radians(second)
    smaller = min(wx.sum(), wy.sum())
    estimator = "Δ4" if smaller >= DELTA4_MIN_SAMPLE else "Δ1"
    adjust = 1.0 if estimator == "Δ4" else 0.8  # Ridout & Linkie's adjustments of the bandwidth
    nu_x = adjust * taylor_concentration(von_mises_concentration(x, wx), float(wx.sum()))
    nu_y = adjust * taylor_concentration(von_mises_concentration(y, wy), float(wy.sum()))
    grid = np.arange(GRID_POINTS) * 2 * math.pi / GRID_POINTS
    f = kernel_density(grid, x, wx, nu_x)
    g = kernel_density(grid, y, wy, nu_y)
    if estimator == "Δ4":
        coefficient = delta4(
            kernel_density(x, x, wx, nu_x), kernel_density(x, y, wy, nu_y), wx,
            kernel_density(y, x, wx, nu_x), kernel_density(y, y, wy, nu_y), wy,
        )  # fmt: skip
    else:
        coefficient = delta1(f, g)
    per_hour = 2 * math.pi / 24  # a density per radian, as a density per hour
    return Overlap(
        estimator=estimator,
        coefficient=coefficient,
        hours=[float(v) for v in grid * 24 / (2 * math.pi)],
        first=[float(v) for v in f * per_hour],
        second=[float(v) for v in g * per_hour],
    )


def _radians(records: Mapping[float, int]) -> tuple[Floats, Floats]:
    hours = sorted(hour for hour, count in records.items() if count > 0)
    return (
        np.array([hour / 24 * 2 * math.pi for hour in hours], dtype=np.float64),
        np.array([records[hour] for hour in hours], dtype=np.float64),
    )


# --- model performance ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Confusion:
    labels: list[str]  # the order of rows (verified) and columns (model)
    matrix: list[list[int]]  # matrix[verified][model]

    @property
    def empty(self) -> bool:
        return not self.labels

    def cells(self) -> list[tuple[str, str, int]]:
        """(verified, model, count) of every non-empty cell."""
        return [
            (truth, said, self.matrix[i][j])
            for i, truth in enumerate(self.labels)
            for j, said in enumerate(self.labels)
            if self.matrix[i][j]
        ]


@dataclass(frozen=True, slots=True)
class ClassScore:
    label: str
    verified: int  # how many the people said were this class
    predicted: int  # how many the model said were
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.verified if self.verified else None


def confusion(pairs: Iterable[tuple[str, str, int]]) -> Confusion:
    """(verified class, model's class, count) as a square matrix; classes by how often people saw them."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    weight: dict[str, int] = defaultdict(int)
    for truth, said, n in pairs:
        counts[truth, said] += n
        weight[truth] += n
        weight.setdefault(said, 0)
    labels = sorted(weight, key=lambda label: (-weight[label], label))
    return Confusion(labels, [[counts.get((truth, said), 0) for said in labels] for truth in labels])


def class_scores(table: Confusion) -> list[ClassScore]:
    """Precision and recall per class; the made-up classes (a missed or removed box) have only one of them."""
    size = len(table.labels)
    return [
        ClassScore(
            label=label,
            verified=sum(table.matrix[i]),
            predicted=sum(table.matrix[k][i] for k in range(size)),
            correct=table.matrix[i][i],
        )
        for i, label in enumerate(table.labels)
    ]
