"""``/gallery``: thumbnails of done photos with infinite scroll, filters kept in the URL, one tile per sequence.

The filters are read from the URL and written back to it on every change (history.replace), so a view can be
shared or bookmarked. The arrow keys (or j/k) move between tiles; Enter opens the photo.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, timedelta
from typing import Any

from fastapi import Request
from nicegui import ui

from addax.domain.days import local_today, parse_day
from addax.domain.gallery import LABELS, GalleryQuery, Tile, collapse, parse_query
from addax.store import gallery, projects
from addax.ui.context import UiServices
from addax.ui.layout import signed_in_page
from addax.ui.media import media_url
from addax.ui.session import NotFound, Viewer

PAGE_SIZE = 60
FIRST_SCREEN = 18  # tiles a desktop shows before scrolling
ANY = "any"

# Moves focus between tiles; the gallery's sentinel asks for more photos when it comes into view.
SCRIPT = """
window.addaxTiles = (step) => {
  const tiles = [...document.querySelectorAll('a.addax-tile')];
  if (!tiles.length) return;
  const at = tiles.indexOf(document.activeElement);
  const next = tiles[Math.min(Math.max(at < 0 ? 0 : at + step, 0), tiles.length - 1)];
  next.focus(); next.scrollIntoView({block: 'nearest'});
};
window.addaxWatchMore = () => {
  const sentinel = document.getElementById('addax-more');
  if (!sentinel) return;
  const near = () => sentinel.getBoundingClientRect().top < window.innerHeight + 600;
  if (window.addaxObserver) window.addaxObserver.disconnect();
  window.addaxObserver = new IntersectionObserver(
    (entries) => { if (entries.some((entry) => entry.isIntersecting)) emitEvent('addax_gallery_more'); },
    {rootMargin: '600px'});
  window.addaxObserver.observe(sentinel);
  if (near()) emitEvent('addax_gallery_more');
};
"""


def register(services: UiServices) -> None:
    @signed_in_page(services, "/gallery", "Gallery")
    async def gallery_page(viewer: Viewer, request: Request) -> None:
        query = parse_query(request.query_params)
        if query.project is not None and not viewer.can_see(query.project):
            raise NotFound
        await Gallery(services, viewer, query).build()


class Gallery:
    def __init__(self, services: UiServices, viewer: Viewer, query: GalleryQuery) -> None:
        self.services, self.viewer, self.query = services, viewer, query
        self.last_id: int | None = None
        self.seen_events: set[int] = set()
        self.finished = False
        self.loading = False
        self.shown = 0

    @property
    def projects(self) -> list[int]:
        return [self.query.project] if self.query.project is not None else self.viewer.projects

    async def build(self) -> None:
        if not self.projects:
            ui.label("You are not in any project yet: ask an admin to add you to one.").classes("text-h6")
            return
        pool = self.services.pool
        self.species = await gallery.species_names(pool, self.projects)
        self.sites, self.cameras = await gallery.places(pool, self.projects)
        self.zone = await projects.timezone(pool, self.projects[0]) if len(self.projects) == 1 else "UTC"
        ui.add_body_html(f"<script>{SCRIPT}</script>")
        self._filters()
        self.count_label = ui.label("").classes("text-caption text-grey-7 q-mt-sm")
        self.grid = ui.element("div").classes("w-full q-mt-sm gap-2 addax-grid")
        self.grid.style("display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr))")
        ui.element("div").props("id=addax-more").classes("w-full").style("height: 4px")
        self.end = ui.label("").classes("text-grey-7 q-my-md")
        ui.on("addax_gallery_more", self.more)
        ui.keyboard(on_key=self._key)
        await self.more()

    def _filters(self) -> None:
        query = self.query
        active = sum(
            value is not None
            for value in (
                query.site,
                query.camera,
                query.since,
                query.until,
                query.label,
                query.species,
                query.min_score,
                query.verified,
            )
        )
        panel = ui.expansion(f"Filters ({active} set)" if active else "Filters", icon="filter_list", value=True)
        panel.classes("w-full").props("dense header-class=text-primary")

        # A phone's screen is for photos: the filters start folded there (the browser knows its width; asked
        # without waiting for an answer, so a slow phone cannot time the question out).
        ui.on("addax_fold_filters", lambda: panel.set_value(False))
        ui.run_javascript("if (window.innerWidth < 600) emitEvent('addax_fold_filters')")
        with panel:
            self._filter_menus()

    def _filter_menus(self) -> None:
        query = self.query
        with ui.row().classes("w-full items-end q-gutter-sm wrap"):
            if len(self.viewer.projects) > 1:
                projects = {ANY: "All projects"} | {p: n for p, n in self.viewer.project_names.items()}
                select("Project", projects, query.project, lambda v: self.change(project=v, site=None, camera=None))
            select("Site", {ANY: "All sites"} | self.sites, query.site, lambda v: self.change(site=v))
            select("Camera", {ANY: "All cameras"} | self.cameras, query.camera, lambda v: self.change(camera=v))
            species = {ANY: "All species"} | {taxon: f"{name} ({taxon})" for taxon, name in self.species.items()}
            if query.species and query.species not in species:
                species[query.species] = query.species
            select("Species", species, query.species, lambda v: self.change(species=v), search=True)
            labels = {ANY: "Anything"} | {label: label for label in LABELS}
            select("Shows", labels, query.label, lambda v: self.change(label=v))
            states = {ANY: "Verified or not", "1": "Verified", "0": "Not verified"}
            chosen = None if query.verified is None else ("1" if query.verified else "0")
            select("Verified", states, chosen, lambda v: self.change(verified=None if v is None else v == "1"))
            score = ui.number("Min. score", value=query.min_score, min=0, max=1, step=0.05, format="%.2f")
            score.classes("w-28").on(
                "change", lambda: self.change(min_score=score.value if score.value not in (None, 0) else None)
            )
            since = ui.input("From", value=query.since.isoformat() if query.since else "").props("type=date")
            since.classes("w-36").on("change", lambda: self.change(since=parse_day(since.value)))
            until = ui.input("To", value=query.until.isoformat() if query.until else "").props("type=date")
            until.classes("w-36").on("change", lambda: self.change(until=parse_day(until.value)))
        with ui.row().classes("items-center q-gutter-sm wrap"):
            today = local_today(self.zone)  # the day the range filter reads: in the same zone
            ui.button("Today", on_click=lambda: self.change(since=today, until=today)).props("outline dense")
            yesterday = today - timedelta(days=1)
            ui.button("Yesterday", on_click=lambda: self.change(since=yesterday, until=yesterday)).props(
                "outline dense"
            )
            ui.button("Last 7 days", on_click=lambda: self.change(since=today - timedelta(days=6), until=None)).props(
                "outline dense"
            )
            ui.switch(
                "One tile per sequence", value=query.sequences, on_change=lambda e: self.change(sequences=e.value)
            )
            ui.button("Clear filters", on_click=lambda: self.change(**_cleared())).props("flat dense")
        if len(self.projects) > 1:
            # projects may lie in different zones: one zone for all, said out loud (pick a project for its own)
            ui.label("Days are in UTC across several projects; choose a project to see its local days.").classes(
                "text-caption text-grey-7"
            )

    async def change(self, **changes: Any) -> None:
        self.query = self.query.with_(**changes)
        ui.navigate.to(self.query.to_url())  # a fresh page: the menus follow the project, the URL is shareable

    async def more(self) -> None:
        if self.loading or self.finished:
            return
        self.loading = True
        try:
            since, until = self.query.time_range(self.zone)
            filters = gallery.Filters(
                projects=self.projects,
                site=self.query.site,
                camera=self.query.camera,
                since=since,
                until=until,
                label=self.query.label,
                species=self.query.species,
                min_score=self.query.min_score,
                verified=self.query.verified,
            )
            tiles: list[Tile] = []
            while not tiles and not self.finished:
                rows = await gallery.page(self.services.pool, filters, before_id=self.last_id, limit=PAGE_SIZE)
                self.finished = len(rows) < PAGE_SIZE
                if rows:
                    self.last_id = int(rows[-1]["id"])
                tiles = collapse(rows, self.seen_events, sequences=self.query.sequences)
            with self.grid:
                for tile in tiles:
                    self._tile(tile, first_screen=self.shown < FIRST_SCREEN)
                    self.shown += 1
            self.count_label.set_text(f"{self.shown} {'tiles' if self.query.sequences else 'photos'} shown")
            if self.finished:
                self.end.set_text("No photos match these filters." if not self.shown else "That is all.")
        finally:
            self.loading = False
        if not self.finished:
            ui.run_javascript("window.addaxWatchMore()")

    def _tile(self, tile: Tile, *, first_screen: bool) -> None:
        row = tile.row
        names = [self.species.get(taxon, taxon) for taxon in row["taxa"]] or list(row["labels"]) or ["blank"]
        with ui.link(target=f"/images/{tile.image_id}").classes("addax-tile no-underline text-grey-9 rounded-borders"):
            with ui.element("div").classes("relative-position"):
                if row["has_thumbnail"]:
                    url = media_url(tile.image_id, "thumbnail")
                    if first_screen:  # fetched while the page's scripts load, shown the moment it renders
                        ui.add_head_html(f'<link rel="preload" as="image" href="{url}">')
                    thumbnail = ui.element("img").props("loading=eager" if first_screen else "loading=lazy")
                    # Names come from people (verifications): set as values, never parsed as a props string.
                    thumbnail.props["src"] = url
                    thumbnail.props["alt"] = ", ".join(names)
                    thumbnail.classes("addax-thumb w-full rounded-borders").style(
                        "aspect-ratio: 4 / 3; object-fit: cover"
                    )
                if tile.photos > 1:
                    ui.badge(f"{tile.photos} photos").classes("absolute-top-right q-ma-xs")
                if row["verified"]:
                    ui.icon("verified", color="positive").classes("absolute-top-left q-ma-xs bg-white rounded-borders")
            ui.label(", ".join(names)).classes("text-body2 ellipsis")
            ui.label(f"{_local(row)} · {row['site'] or row['camera'] or ''}").classes("text-caption ellipsis")

    def _key(self, event: Any) -> None:
        if not event.action.keydown:
            return
        step = {"ArrowRight": 1, "ArrowDown": 1, "j": 1, "ArrowLeft": -1, "ArrowUp": -1, "k": -1}.get(str(event.key))
        if step is not None:
            ui.run_javascript(f"window.addaxTiles({step})")


def select(label: str, options: dict[Any, str], value: Any, changed: Any, *, search: bool = False) -> None:
    """A filter menu whose first option (ANY) means no filter."""
    current = value if value in options else ANY

    async def on_change(event: Any) -> None:
        await changed(None if event.value == ANY else event.value)

    widget = ui.select(options, label=label, value=current, on_change=on_change, with_input=search)
    widget.classes("min-w-[9rem]").props("dense options-dense")


def _cleared() -> dict[str, Any]:
    return {
        "site": None,
        "camera": None,
        "since": None,
        "until": None,
        "label": None,
        "species": None,
        "min_score": None,
        "verified": None,
        "sequences": True,
    }


def _local(row: Mapping[str, Any]) -> str:
    """When the photo was taken, on the camera's clock (the arrival time when it has none)."""
    moment = row["taken_at"] or row["received_at"]
    offset = row["utc_offset_minutes"]
    if offset is not None:
        moment = moment.astimezone(UTC) + timedelta(minutes=offset)
    return f"{moment:%a %d %b %H:%M}"
