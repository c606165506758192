"""``/insights``: what the cameras saw in one project, as ecologists read it, every chart also as CSV.

The choices (project, period, site, independence interval, bucket, the two species to compare) live in the URL, so
a view can be shared; changing one reloads the page with the new query.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from nicegui import ui

from addax.domain import insights as figures
from addax.store import browse
from addax.store import insights as store
from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.pages import insights_charts as charts
from addax.ui.pages.insights_cards import chart_card, table_card
from addax.ui.session import NotFound, Viewer

INTERVALS_MIN = [1, 5, 15, 30, 60, 120, 1440]
DEFAULT_DAYS = 90


@dataclass(frozen=True, slots=True)
class View:
    project_id: int
    first: date
    last: date
    site_id: int | None = None
    interval_min: int = 30
    bucket: str = "week"
    species_a: str | None = None
    species_b: str | None = None
    per: str = "photo"

    def url(self, **changes: Any) -> str:
        view = replace(self, **changes)
        query = {
            "project": view.project_id,
            "from": view.first.isoformat(),
            "to": view.last.isoformat(),
            "site": view.site_id,
            "interval": view.interval_min,
            "bucket": view.bucket,
            "a": view.species_a,
            "b": view.species_b,
            "per": view.per,
        }
        return "/insights?" + urlencode({key: value for key, value in query.items() if value is not None})

    def scope(self) -> store.Scope:
        since = datetime.combine(self.first, time.min, UTC)
        return store.Scope(
            self.project_id, since, datetime.combine(self.last + timedelta(days=1), time.min, UTC), self.site_id
        )


def read_view(viewer: Viewer, query: dict[str, str]) -> View | None:
    """The view the URL asks for; NotFound for a project that is not the viewer's, None when they have none."""
    if "project" in query:
        project_id = _int(query["project"])
        viewer.check(project_id)
    elif viewer.projects:
        project_id = viewer.projects[0]
    else:
        return None
    assert project_id is not None
    today = datetime.now(UTC).date()
    last = _date(query.get("to")) or today
    first = _date(query.get("from")) or last - timedelta(days=DEFAULT_DAYS)
    if first > last:
        first, last = last, first
    interval = _int(query.get("interval")) or 30
    return View(
        project_id=project_id,
        first=first,
        last=last,
        site_id=_int(query.get("site")),
        interval_min=interval if interval in INTERVALS_MIN else 30,
        bucket="day" if query.get("bucket") == "day" else "week",
        species_a=query.get("a") or None,
        species_b=query.get("b") or None,
        per="box" if query.get("per") == "box" else "photo",
    )


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        raise NotFound from None


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def register(services: UiServices) -> None:
    @signed_in_page(services, "/insights", "Insights")
    async def insights(viewer: Viewer, request: Request) -> None:
        view = read_view(viewer, dict(request.query_params))
        if view is None:
            ui.label("You are in no project yet: nothing to show.").classes("q-ma-md")
            return
        sites = await browse.sites(services.pool, projects=[view.project_id])
        if view.site_id is not None and view.site_id not in {site["id"] for site in sites}:
            raise NotFound
        species = [taxon for taxon, _, _ in await store.counts_over_time(services.pool, view.scope(), "week")]
        species = sorted(set(species))
        with ui.column().classes("w-full q-pa-sm gap-3"):
            _controls(viewer, view, sites)
            with ui.element("div").classes("grid grid-cols-1 xl:grid-cols-2 gap-3 w-full"):
                await _charts(services, view, sites, species)


def _controls(viewer: Viewer, view: View, sites: list[dict[str, Any]]) -> None:
    def go(**changes: Any) -> None:
        ui.navigate.to(view.url(**changes))

    def go_to_day(field: str, text: str | None) -> None:
        day = _date(text)
        if day is not None:
            go(**{field: day})

    def other_project(project_id: int) -> None:
        ui.navigate.to(View(project_id, view.first, view.last).url())

    site_options: dict[int | None, str] = {None: "All sites", **{site["id"]: site["name"] for site in sites}}
    with ui.row().classes("w-full items-end gap-2"):
        project = ui.select(viewer.project_names, value=view.project_id, label="Project")
        project.on_value_change(lambda e: other_project(e.value))
        project.classes("min-w-[10rem]")
        since = ui.input("From", value=view.first.isoformat()).props("type=date dense").classes("w-36")
        since.on_value_change(lambda e: go_to_day("first", e.value))
        until = ui.input("To", value=view.last.isoformat()).props("type=date dense").classes("w-36")
        until.on_value_change(lambda e: go_to_day("last", e.value))
        site = ui.select(site_options, value=view.site_id, label="Site").classes("min-w-[9rem]")
        site.on_value_change(lambda e: go(site_id=e.value))
        interval = ui.select({m: _minutes(m) for m in INTERVALS_MIN}, value=view.interval_min, label="Independence")
        interval.on_value_change(lambda e: go(interval_min=e.value))
        interval.classes("min-w-[8rem]").tooltip("Two sightings of a species at a camera count once within this")


def _minutes(minutes: int) -> str:
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


async def _charts(services: UiServices, view: View, sites: list[dict[str, Any]], species: list[str]) -> None:
    pool, scope = services.pool, view.scope()
    nothing = "Nothing yet: no photos with a species in this period."

    over_time = figures.pivot(
        await store.counts_over_time(pool, scope, "day" if view.bucket == "day" else "week"),
        figures.bucket_labels(view.first, view.last, view.bucket),
    )
    with chart_card(
        "Photos per species over time",
        charts.stacked_bars(over_time, "week of" if view.bucket == "week" else "day", "photos"),
        csv=(["species", view.bucket, "photos"], over_time.rows()),
        filename="photos-over-time.csv",
        empty=nothing if over_time.empty else None,
    ):
        ui.toggle({"week": "by week", "day": "by day"}, value=view.bucket,
                  on_change=lambda e: ui.navigate.to(view.url(bucket=e.value))).props("dense size=sm")  # fmt: skip

    hours = figures.by_hour(await store.photos_by_hour(pool, scope))
    light = await _daylight(services, view, sites)
    note = (
        f"Shaded: night (sunrise {_clock(light[0])}, sunset {_clock(light[1])} at the sites, mid-period)."
        if light
        else "No night shading: the sites have no position."
    )
    with chart_card(
        "Activity by hour of the day",
        charts.hourly(hours, light),
        csv=(["species", "hour", "photos"], hours.rows()),
        filename="activity-by-hour.csv",
        empty=nothing if hours.empty else None,
    ):
        ui.label(note).classes("text-caption text-grey-7")

    spans = await store.spans_by_site(pool, scope)
    rates = figures.detection_rates(
        await store.sightings(pool, scope),
        spans,
        (scope.since, scope.until),
        view.interval_min,
    )
    chart_card(
        f"Independent detections per 100 trap-days ({_minutes(view.interval_min)} apart)",
        charts.rates(rates),
        csv=(
            ["site", "species", "independent detections", "trap-days", "per 100 trap-days"],
            [(r.site, r.taxon, r.independent, round(r.trap_days, 2), round(r.per_100_trap_days, 2)) for r in rates],
        ),
        filename="detections-per-100-trap-days.csv",
        empty=nothing if not rates else None,
    )

    occupied = figures.naive_occupancy(await store.sites_by_species(pool, scope), spans)
    chart_card(
        "Naive occupancy (share of the surveyed sites)",
        charts.occupancy(occupied),
        csv=(
            ["species", "sites detected", "sites surveyed", "naive occupancy"],
            [(o.taxon, o.sites_detected, o.sites_surveyed, round(o.naive, 3)) for o in occupied],
        ),
        filename="naive-occupancy.csv",
        empty="Nothing yet: no species seen at a site in this period." if not occupied else None,
    )

    await _overlap_card(services, view, species)

    sizes = figures.group_sizes(await store.group_sizes(pool, scope))
    chart_card(
        "Group sizes (individuals per photo)",
        charts.stacked_bars(sizes, "individuals in the photo", "photos"),
        csv=(["species", "individuals", "photos"], sizes.rows()),
        filename="group-sizes.csv",
        empty=nothing if sizes.empty else None,
    )

    deployments = await store.deployments(pool, scope)
    chart_card(
        "Deployments",
        charts.timeline(deployments, view.first, view.last),
        csv=(
            ["camera", "site", "starts on", "ends on"],
            [
                (d.camera, d.site, d.starts_on.isoformat(), d.ends_on.isoformat() if d.ends_on else "")
                for d in deployments
            ],
        ),
        filename="deployments.csv",
        empty="Nothing yet: no camera was deployed in this period." if not deployments else None,
    )

    await _model_card(services, view)


async def _overlap_card(services: UiServices, view: View, species: list[str]) -> None:
    first = view.species_a if view.species_a in species else (species[0] if species else None)
    second = view.species_b if view.species_b in species else (species[1] if len(species) > 1 else None)
    result = None
    if first and second:
        times = await store.times_of_day(services.pool, view.scope(), [first, second])
        result = figures.activity_overlap(times[first], times[second]) if first != second else None
    title = "Activity overlap"
    if result is not None:
        title += f": {result.estimator} = {result.coefficient:.2f}"
    with chart_card(
        title,
        charts.overlap(result, first or "", second or "") if result else None,
        csv=(
            ["hour", f"density {first}", f"density {second}", "overlap"],
            [(round(h, 3), a, b, min(a, b)) for h, a, b in zip(result.hours, result.first, result.second, strict=True)]
            if result
            else [],
        ),
        filename="activity-overlap.csv",
        empty=None if result else "Nothing yet: pick two species with at least two photos each.",
    ):
        with ui.row().classes("gap-2"):
            options = {taxon: taxon for taxon in species}
            ui.select(options, value=first, label="Species",
                      on_change=lambda e: ui.navigate.to(view.url(species_a=e.value, species_b=second))
                      ).props("dense").classes("min-w-[9rem]")  # fmt: skip
            ui.select(options, value=second, label="and",
                      on_change=lambda e: ui.navigate.to(view.url(species_a=first, species_b=e.value))
                      ).props("dense").classes("min-w-[9rem]")  # fmt: skip


async def _model_card(services: UiServices, view: View) -> None:
    pairs = (
        await store.confusion_per_box(services.pool, view.scope())
        if view.per == "box"
        else await store.confusion_per_photo(services.pool, view.scope())
    )
    table = figures.confusion(pairs)
    empty = "Nothing yet: no verified photos in this period." if table.empty else None
    with chart_card(
        f"Model against verified photos (per {view.per})",
        charts.confusion(table),
        csv=(["verified", "model", "boxes" if view.per == "box" else "photos"], table.cells()),
        filename=f"confusion-per-{view.per}.csv",
        empty=empty,
    ):
        ui.toggle({"photo": "per photo", "box": "per box"}, value=view.per,
                  on_change=lambda e: ui.navigate.to(view.url(per=e.value))).props("dense size=sm")  # fmt: skip
    scores = figures.class_scores(table)
    table_card(
        "Precision and recall per class",
        ["class", "verified", "model said", "correct", "precision", "recall"],
        [(s.label, s.verified, s.predicted, s.correct, _share(s.precision), _share(s.recall)) for s in scores],
        filename=f"precision-recall-per-{view.per}.csv",
        empty=empty,
    )


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _clock(hours: float) -> str:
    minutes = round(hours * 60) % (24 * 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


async def _daylight(services: UiServices, view: View, sites: list[dict[str, Any]]) -> tuple[float, float] | None:
    placed = [s for s in sites if s["latitude"] is not None and (view.site_id is None or s["id"] == view.site_id)]
    if not placed:
        return None
    middle = view.first + (view.last - view.first) / 2
    zone = ZoneInfo(await store.project_timezone(services.pool, view.project_id))
    offset = datetime.combine(middle, time(12), zone).utcoffset() or timedelta()
    return figures.daylight(
        sum(s["latitude"] for s in placed) / len(placed),
        sum(s["longitude"] for s in placed) / len(placed),
        offset.total_seconds() / 60,
        middle.timetuple().tm_yday,
    )
