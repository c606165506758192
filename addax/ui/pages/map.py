"""``/map``: the viewer's sites and cameras on a Leaflet map, coloured by when each was last heard from.

Tiles come from the configured tile server (OpenStreetMap by default). A server without internet access
cannot load them; the browser reports Leaflet's ``tileerror`` and the page says so, while the positions are
still drawn (they need no tiles). Cameras without a position are listed under the map.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from nicegui import ui

from addax.domain.field_work import Activity
from addax.store import camera_board
from addax.ui.context import UiServices
from addax.ui.formatting import ago
from addax.ui.layout import signed_in_page
from addax.ui.pages.cameras_common import ACTIVITY_WORDS, activity_of
from addax.ui.session import NotFound, Viewer

TILES_FAILED = "addax_map_tiles_failed"
LABELLED_SITES = 25

# Runs once the Leaflet map exists in the browser. Names come from cameras and EXIF: they only ever reach
# the page as text (textContent), never as HTML.
_DRAW = """
(() => {
  const map = getElement(%(map)s).map;
  const data = %(data)s;
  let told = false;
  L.tileLayer(data.tiles, {attribution: data.attribution, maxZoom: 19})
    .on("tileerror", () => { if (!told) { told = true; emitEvent("%(event)s"); } })
    .addTo(map);
  const bounds = [];
  for (const p of data.points) {
    // Leaflet takes a string as HTML: names (from cameras' EXIF, typed by people) go in as text nodes only.
    const text = (value) => { const span = document.createElement("span"); span.textContent = value; return span; };
    const box = document.createElement("div");
    const title = document.createElement("b");
    title.textContent = p.name;
    box.append(title, document.createElement("br"), p.detail);
    if (p.href) {
      const link = document.createElement("a");
      link.href = p.href;
      link.textContent = "Open camera";
      box.append(document.createElement("br"), link);
    }
    const site = p.kind === "site";
    L.circleMarker([p.lat, p.lon], {
      radius: site ? 13 : 7, color: site ? p.colour : "#ffffff", weight: site ? 3 : 2,
      fillColor: site ? "#ffffff" : p.colour, fillOpacity: site ? 0.35 : 0.95,
      className: `addax-marker addax-${p.kind} addax-${p.activity}`,
    }).bindPopup(box)
      .bindTooltip(text(p.name), {permanent: site && data.label_sites, direction: "right", offset: [10, 0]})
      .addTo(map);
    bounds.push([p.lat, p.lon]);
  }
  if (bounds.length) map.fitBounds(bounds, {padding: [40, 40], maxZoom: 14});
})();
"""


def register(services: UiServices) -> None:
    @signed_in_page(services, "/map", "Map")
    async def map_page(viewer: Viewer, request: Request) -> None:
        chosen = _chosen_project(viewer, request.query_params.get("project"))
        projects = [chosen] if chosen is not None else viewer.projects
        cameras = await camera_board.camera_rows(services.pool, projects=projects)
        sites = await camera_board.site_points(services.pool, projects=projects)
        now = datetime.now(UTC)
        points = [_site_point(site, now) for site in sites]
        points += [_camera_point(camera, now) for camera in cameras if camera["latitude"] is not None]

        with ui.column().classes("w-full q-pa-sm gap-2"):
            with ui.row().classes("items-center w-full gap-4"):
                if len(viewer.projects) > 1:
                    options = {0: "All my projects", **viewer.project_names}
                    ui.select(
                        options,
                        value=chosen or 0,
                        label="Project",
                        on_change=lambda e: ui.navigate.to(f"/map?project={e.value}" if e.value else "/map"),
                    ).classes("w-56")
                _legend()
            notice = ui.label("Map tiles could not be loaded; positions are still shown.")
            notice.classes("w-full q-pa-sm rounded-borders bg-amber-2 text-brown-9").props("role=status")
            notice.set_visibility(False)
            ui.on(TILES_FAILED, lambda: notice.set_visibility(True))
            leaflet = ui.leaflet(center=(0.0, 0.0), zoom=2).classes("w-full").style("height: min(65vh, 640px)")
            leaflet.clear_layers()  # NiceGUI's built-in OSM layer: ours is the configured one, with an error hook
            script = _DRAW % {"map": leaflet.id, "data": json.dumps(_map_data(services, points)), "event": TILES_FAILED}
            leaflet.on("init", lambda: ui.run_javascript(script))
            _unplaced([camera for camera in cameras if camera["latitude"] is None], now)


def _chosen_project(viewer: Viewer, value: str | None) -> int | None:
    if not value or value == "0":
        return None
    if not value.isdigit() or not viewer.can_see(int(value)):
        raise NotFound
    return int(value)


def _map_data(services: UiServices, points: list[dict[str, Any]]) -> dict[str, Any]:
    sites = sum(1 for point in points if point["kind"] == "site")
    return {
        "tiles": services.map_tiles,
        "attribution": services.map_attribution,
        "points": points,
        "label_sites": sites <= LABELLED_SITES,  # names help most where tiles fail; many would hide the map
    }


def _site_point(site: dict[str, Any], now: datetime) -> dict[str, Any]:
    seen = activity_of(site, now)
    cameras = f"{site['cameras']} camera{'s' if site['cameras'] != 1 else ''} here"
    return {
        "kind": "site",
        "name": f"Site {site['name']}",
        "detail": f"{cameras}, last heard {ago(site['last_seen_at'], now)}",
        "lat": site["latitude"],
        "lon": site["longitude"],
        "colour": seen.colour,
        "activity": str(seen),
        "href": None,
    }


def _camera_point(camera: dict[str, Any], now: datetime) -> dict[str, Any]:
    seen = activity_of(camera, now)
    where = f" at {camera['site']}" if camera["site"] else ""
    return {
        "kind": "camera",
        "name": camera["name"],
        "detail": f"{camera['status']}{where}, last seen {ago(camera['last_seen_at'], now)}",
        "lat": camera["latitude"],
        "lon": camera["longitude"],
        "colour": seen.colour,
        "activity": str(seen),
        "href": f"/cameras/{camera['id']}",
    }


def _legend() -> None:
    with ui.row().classes("items-center gap-3 text-caption"):
        for state in Activity:
            with ui.row().classes("items-center gap-1 no-wrap"):
                ui.element("span").style(
                    f"display:inline-block;width:12px;height:12px;border-radius:50%;background:{state.colour}"
                )
                ui.label(ACTIVITY_WORDS[state])
        ui.label("big ring: a site, dot: a camera").classes("text-grey-7")


def _unplaced(cameras: list[dict[str, Any]], now: datetime) -> None:
    if not cameras:
        return
    ui.label("Cameras without a position").classes("text-subtitle1 q-mt-sm")
    with ui.list().props("dense bordered separator").classes("w-full rounded-borders"):
        for camera in cameras:
            with ui.item(on_click=lambda c=camera: ui.navigate.to(f"/cameras/{c['id']}")).props("clickable"):
                with ui.item_section():
                    ui.item_label(camera["name"])
                    ui.item_label(
                        f"{camera['project']} · {camera['status']} · last seen {ago(camera['last_seen_at'], now)}"
                    ).props("caption")
