"""The ECharts options of the insights page, each from the same numbers its CSV holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from addax.domain.insights import Confusion, Occupancy, Overlap, Rate, Table
from addax.store.insights import Deployment

Options = dict[str, Any]

_GRID = {"left": 40, "right": 28, "top": 64, "bottom": 48, "containLabel": True}
_LEGEND = {"type": "scroll", "top": 0}


def stacked_bars(table: Table, x_name: str, y_name: str) -> Options:
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": _LEGEND,
        "grid": _GRID,
        "xAxis": {
            "type": "category",
            "data": table.columns,
            "name": x_name,
            "nameLocation": "middle",
            "nameGap": 30,
            "axisLabel": {"hideOverlap": True},
        },
        "yAxis": {"type": "value", "name": y_name, "minInterval": 1},
        "series": [
            {
                "name": key,
                "type": "bar",
                "stack": "all",
                "barMaxWidth": 28,
                "data": values,
                "emphasis": {"focus": "series"},
            }
            for key, values in table.series.items()
        ],
    }


def hourly(table: Table, daylight: tuple[float, float] | None) -> Options:
    options = stacked_bars(table, "hour of the day (camera time)", "photos")
    if daylight is not None and table.series:
        sunrise, sunset = (round(hour) % 24 for hour in daylight)
        night = {"itemStyle": {"color": "rgba(40, 50, 90, 0.12)"}}
        areas = [
            [{**night, "xAxis": "00"}, {"xAxis": f"{sunrise:02d}"}],
            [{**night, "xAxis": f"{sunset:02d}"}, {"xAxis": "23"}],
        ]
        options["series"][0]["markArea"] = {"silent": True, "data": areas}
    return options


def rates(found: Sequence[Rate]) -> Options:
    species = sorted({rate.taxon for rate in found})
    sites = sorted({rate.site for rate in found})
    value = {(rate.site, rate.taxon): round(rate.per_100_trap_days, 2) for rate in found}
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": _LEGEND,
        "grid": _GRID,
        "xAxis": {"type": "category", "data": species, "axisLabel": {"interval": 0, "rotate": 30}},
        "yAxis": {"type": "value", "name": "per 100 trap-days"},
        "series": [
            {"name": site, "type": "bar", "data": [value.get((site, taxon), 0) for taxon in species]} for site in sites
        ],
    }


def occupancy(found: Sequence[Occupancy]) -> Options:
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "grid": _GRID,
        "xAxis": {"type": "category", "data": [row.taxon for row in found], "axisLabel": {"interval": 0, "rotate": 30}},
        "yAxis": {"type": "value", "name": "share of sites", "min": 0, "max": 1},
        "series": [{"name": "naive occupancy", "type": "bar", "data": [round(row.naive, 3) for row in found]}],
    }


def overlap(result: Overlap, first: str, second: str) -> Options:
    def curve(values: list[float]) -> list[list[float]]:
        return [[round(hour, 3), round(value, 5)] for hour, value in zip(result.hours, values, strict=True)]

    shared = [min(a, b) for a, b in zip(result.first, result.second, strict=True)]
    return {
        "animation": False,
        "tooltip": {"trigger": "axis"},
        "legend": _LEGEND,
        "grid": _GRID,
        "xAxis": {"type": "value", "min": 0, "max": 24, "interval": 3, "name": "hour (camera time)",
                  "nameLocation": "middle", "nameGap": 30},
        "yAxis": {"type": "value", "name": "density"},
        "series": [
            {"name": first, "type": "line", "showSymbol": False, "data": curve(result.first)},
            {"name": second, "type": "line", "showSymbol": False, "data": curve(result.second)},
            {"name": "overlap", "type": "line", "showSymbol": False, "data": curve(shared),
             "lineStyle": {"width": 0}, "areaStyle": {"opacity": 0.3}},
        ],
    }  # fmt: skip


def timeline(deployments: Sequence[Deployment], since: date, until: date) -> Options:
    cameras = sorted({d.camera for d in deployments})
    sites = sorted({d.site for d in deployments})
    # one line per deployment, coloured by site: a camera's gaps are the blanks on its row
    series = [
        {
            "name": d.site,
            "type": "line",
            "symbol": "rect",
            "symbolSize": [4, 16],
            "lineStyle": {"width": 14},
            "color": _palette(sites.index(d.site)),
            "data": [
                [max(d.starts_on, since).isoformat(), d.camera],
                [min(d.ends_on or until, until).isoformat(), d.camera],
            ],
        }
        for d in deployments
    ]
    return {
        "animation": False,
        "tooltip": {"trigger": "item"},
        "legend": {**_LEGEND, "data": sites},
        "grid": {**_GRID, "top": 40, "bottom": 24},
        "xAxis": {
            "type": "time",
            "min": since.isoformat(),
            "max": until.isoformat(),
            "axisLabel": {"hideOverlap": True},
        },
        "yAxis": {"type": "category", "data": cameras},
        "series": series,
    }


def confusion(table: Confusion) -> Options:
    size = len(table.labels)
    largest = max((max(row) for row in table.matrix), default=1)
    return {
        "animation": False,
        "tooltip": {"position": "top"},
        "grid": {"left": 8, "right": 24, "top": 36, "bottom": 56, "containLabel": True},
        "xAxis": {"type": "category", "data": table.labels, "name": "model", "nameLocation": "middle", "nameGap": 48,
                  "axisLabel": {"interval": 0, "rotate": 30}},
        "yAxis": {"type": "category", "data": table.labels, "name": "verified", "nameLocation": "start",
                  "inverse": True},
        "visualMap": {"min": 0, "max": largest, "show": False, "inRange": {"color": ["#f4f1e8", "#5b6b3a"]}},
        "series": [{
            "type": "heatmap",
            "label": {"show": True},
            "data": [[j, i, table.matrix[i][j]] for i in range(size) for j in range(size) if table.matrix[i][j]],
        }],
    }  # fmt: skip


def _palette(index: int) -> str:
    colours = ["#5b6b3a", "#c07a2c", "#3a6b8a", "#8a3a5b", "#8a7a55", "#3a8a6b", "#6b3a8a", "#8a8a3a"]
    return colours[index % len(colours)]
