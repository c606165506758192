"""The gallery's filters as they travel in the URL (so a view can be shared), and sequences collapsed to tiles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from addax.domain.days import parse_day, start_of
from addax.domain.megadetector import LABELS as BOX_LABELS

LABELS = (*BOX_LABELS, "blank")  # the gallery also finds photos that show nothing


@dataclass(frozen=True, slots=True)
class GalleryQuery:
    """What the gallery shows; every field is optional and absent from the URL when unset."""

    project: int | None = None
    site: int | None = None
    camera: int | None = None
    since: date | None = None  # first day shown, in the project's time zone
    until: date | None = None  # last day shown (inclusive)
    label: str | None = None
    species: str | None = None  # a taxon
    min_score: float | None = None
    verified: bool | None = None
    sequences: bool = True  # one tile per sequence

    def to_url(self, path: str = "/gallery") -> str:
        pairs = []
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None or (spec.name == "sequences" and value):
                continue
            if isinstance(value, bool):
                value = "1" if value else "0"
            pairs.append((spec.name, str(value)))
        return f"{path}?{urlencode(pairs)}" if pairs else path

    def time_range(self, zone: str) -> tuple[datetime | None, datetime | None]:
        """The days as instants: from the first day's midnight to the midnight after the last, in ``zone``."""
        since = start_of(self.since, zone) if self.since else None
        until = start_of(self.until + timedelta(days=1), zone) if self.until else None
        return since, until

    def with_(self, **changes: Any) -> GalleryQuery:
        return replace(self, **changes)


def parse_query(params: Mapping[str, str]) -> GalleryQuery:
    """Read the filters from a URL's query; what cannot be read is ignored (a shared link never breaks a page)."""

    def number(name: str) -> int | None:
        text = params.get(name, "")
        return int(text) if text.isdigit() else None

    def score() -> float | None:
        try:
            value = float(params.get("min_score", ""))
        except ValueError:
            return None
        return value if 0 <= value <= 1 else None

    def flag(name: str) -> bool | None:
        return {"1": True, "true": True, "0": False, "false": False}.get(params.get(name, "").lower())

    label = params.get("label")
    species = params.get("species", "").strip()
    return GalleryQuery(
        project=number("project"),
        site=number("site"),
        camera=number("camera"),
        since=parse_day(params.get("since")),
        until=parse_day(params.get("until")),
        label=label if label in LABELS else None,
        species=species[:200] or None,
        min_score=score(),
        verified=flag("verified"),
        sequences=flag("sequences") is not False,
    )


@dataclass(frozen=True, slots=True)
class Tile:
    image_id: int
    photos: int  # how many photos the tile stands for (its sequence)
    row: Mapping[str, Any]


def collapse(rows: Iterable[Mapping[str, Any]], seen_events: set[int], *, sequences: bool = True) -> list[Tile]:
    """One tile per sequence (its newest photo in the listing, with the sequence's photo count), or per photo.

    ``seen_events`` carries over between pages of an infinite scroll, so a sequence split by a page boundary
    still shows once; it is updated in place."""
    tiles = []
    for row in rows:
        event = row.get("event_id")
        if sequences and event is not None:
            if event in seen_events:
                continue
            seen_events.add(event)
            tiles.append(Tile(int(row["id"]), int(row.get("event_photos") or 1), row))
        else:
            tiles.append(Tile(int(row["id"]), 1, row))
    return tiles
