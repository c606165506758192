"""The dashboard with a big project: gallery and image page load times in Chromium, the server's memory with many
browser sessions open, and the plans of the gallery's queries.

Run from the repository root (it uses the helpers under tests/):

    .venv/bin/python -m bench.dashboard [--images 100000] [--loads 20] [--sessions 20]

One `addax run` (tests/service.py), seeded with the dashboard tests' small world (tests/ui/seed.py), whose project
"wolves" then gets ``--images`` more done photos written straight in SQL (bench/dashboard_seed.py), and ANALYZE.
Signed in once as the project's admin, each page is loaded ``--loads`` times, each time in a fresh browser
context with an empty cache, after one untimed load (bench/dashboard_browser.py): the time to the first
thumbnail (the image page: its photo) and to the whole first screen (1280x860), p50 and p95 (nearest rank).
Memory: RSS of `addax run` and PSS of its PostgreSQL (postmaster and backends), before ``--sessions`` contexts
open the gallery, while they all stay open, and 10 s after they closed. Plans: every query the gallery's store
functions run for each filter, EXPLAIN (ANALYZE, BUFFERS) under a custom and a generic plan
(bench/dashboard_plans.py); a "Seq Scan on images" is flagged.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import subprocess
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from addax.embedded.common import socket_directory
from addax.embedded.postgres import dsn_for
from addax.store import gallery
from addax.store.object_fs import FilesystemObjectStore
from bench import dashboard_served as served
from bench.dashboard_browser import Browser, Load
from bench.dashboard_plans import Plan, explain
from bench.dashboard_seed import Filled, fill
from bench.dashboard_served import Served
from bench.ingest import usage
from tests.conftest import world_readable_tempdir
from tests.service import AddaxProcess, environment
from tests.ui.seed import PASSWORD, World, seed_world

THUMBNAIL = "img.addax-thumb"
# The image page's photo: NiceGUI's interactive image (an <img> in a wrapper that carries the page's test id).
PHOTO = '[data-testid="photo"] img'
ROE_DEER, WOLF = "Capreolus capreolus", "Canis lupus"
VIEWER = "admin@example.org"  # project-admin of "wolves"


def table(rows: list[dict[str, Any]], title: str) -> str:
    """One line per row, as bench/alerts.py prints."""

    def cell(value: Any) -> str:
        return f"{value:.0f}" if isinstance(value, float) else str(value)

    keys = list(rows[0])
    cells = [[cell(row.get(key, "")) for key in keys] for row in rows]
    widths = [max(len(key), *(len(line[at]) for line in cells)) for at, key in enumerate(keys)]
    lines = [title, " | ".join(key.ljust(width) for key, width in zip(keys, widths, strict=True))]
    lines.append("-+-".join("-" * width for width in widths))
    lines += [" | ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines)


def nearest_rank(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def pages(world: World, filled: Filled) -> dict[str, tuple[str, str]]:
    since = (datetime.now(UTC).date() - timedelta(days=30)).isoformat()
    return {
        "/gallery": ("/gallery", THUMBNAIL),
        "/gallery roe deer": (f"/gallery?species={quote(ROE_DEER)}", THUMBNAIL),
        "/gallery North gate, 30 days": (f"/gallery?site={world.sites['North gate']}&since={since}", THUMBNAIL),
        "/images/{id}": (f"/images/{filled.sample_image}", PHOTO),
    }


WARM = ("/gallery", "/images/{id}")  # also timed in a context that keeps its cache


async def page_loads(base_url: str, world: World, filled: Filled, loads: int) -> list[dict[str, Any]]:
    rows = []
    async with Browser(base_url) as browser:
        await browser.sign_in(VIEWER, PASSWORD)
        for name, (path, selector) in pages(world, filled).items():
            try:
                await browser.load(path, selector)  # untimed: the server's first build of this page
            except RuntimeError as error:  # a page that isn't there yet does not stop the others
                print(f"  {name}: {error}", flush=True)
                rows.append({"": name, "loads": 0})
                continue
            rows.append(summary(name, [await browser.load(path, selector) for _ in range(loads)]))
            if name in WARM:
                warm = await browser.context()
                await browser.load(path, selector, warm)  # untimed: fills the cache
                rows.append(summary(f"{name} warm", [await browser.load(path, selector, warm) for _ in range(loads)]))
                await warm.close()
    return rows


def summary(name: str, timed: list[Load]) -> dict[str, Any]:
    first, full = [load.first_ms for load in timed], [load.full_ms for load in timed]
    row = {
        "": name,
        "loads": len(timed),
        "HTML p50 ms": nearest_rank([load.html_ms for load in timed], 0.5),
        "scripts p50 ms": nearest_rank([load.dom_ms for load in timed], 0.5),
        "first p50 ms": nearest_rank(first, 0.5),
        "first p95 ms": nearest_rank(first, 0.95),
        "first max ms": max(first),
        "full p50 ms": nearest_rank(full, 0.5),
        "full p95 ms": nearest_rank(full, 0.95),
        "full max ms": max(full),
        "images on screen": timed[-1].on_screen,
        "first p95 < 1 s": "yes" if nearest_rank(first, 0.95) < 1000 else "NO",
    }
    print(f"  {name}: first p50 {row['first p50 ms']:.0f} ms, full p50 {row['full p50 ms']:.0f} ms", flush=True)
    return row


async def served_plans(addax: AddaxProcess, base_url: str, world: World, filled: Filled, skip: set[str]) -> Served:
    """One more load of each page (and the gallery's other filters) with every plan the server makes logged."""
    more = {
        "label": ("/gallery?label=person", THUMBNAIL),
        "unverified": ("/gallery?verified=0", THUMBNAIL),
        "wolf": (f"/gallery?species={quote(WOLF)}", THUMBNAIL),
    }
    async with Browser(base_url) as browser:
        await browser.sign_in(VIEWER, PASSWORD)
        offset = await asyncio.to_thread(served.logging, addax, True)
        try:
            shown = {name: page for name, page in pages(world, filled).items() if name not in skip}
            for path, selector in [*shown.values(), *more.values()]:
                try:
                    await browser.load(path, selector)
                except RuntimeError as error:
                    print(f"  {path}: {error}")
        finally:
            await asyncio.to_thread(served.logging, addax, False)
    return served.read(addax, offset)


async def sessions(addax: AddaxProcess, base_url: str, count: int) -> list[dict[str, Any]]:
    def row(label: str) -> dict[str, Any]:
        seen = usage(addax)
        return {"": label, "addax RSS MB": seen.rss_mb, "PostgreSQL PSS MB": seen.pg_mb}

    async with Browser(base_url) as browser:
        await browser.sign_in(VIEWER, PASSWORD)
        rows = [row("before")]
        opened = [await browser.open("/gallery", THUMBNAIL) for _ in range(count)]
        for _, page in opened:
            await page.wait_for_load_state("networkidle", timeout=60_000)
        rows.append(row(f"{count} sessions open"))
        for context, _ in opened:
            await context.close()
        await asyncio.sleep(10)  # NiceGUI lets a client go a few seconds after its socket closed
        rows.append(row("10 s after they closed"))
    for measured in rows:
        measured["addax MB per session"] = f"{(measured['addax RSS MB'] - rows[0]['addax RSS MB']) / count:.2f}"
    return rows


def plan_cases(world: World, filled: Filled) -> dict[str, Callable[[Any], Awaitable[Any]]]:
    projects = [world.wolves]
    since = datetime.combine(datetime.now(UTC).date() - timedelta(days=30), datetime.min.time(), UTC)

    def page(**filters: Any) -> Callable[[Any], Awaitable[Any]]:
        before_id = filters.pop("before_id", None)
        query = gallery.Filters(projects, **filters)
        return lambda db: gallery.page(db, query, before_id=before_id, limit=60)  # the page's PAGE_SIZE

    return {
        "no filter": page(),
        "species menu": lambda db: gallery.species_names(db, projects),
        "site and camera menus": lambda db: gallery.places(db, projects),
        "species roe deer (25 %)": page(species=ROE_DEER),
        "species wolf (5 %)": page(species=WOLF),
        "North gate, last 30 days": page(site=world.sites["North gate"], since=since),
        "label person (5 %)": page(label="person"),
        "not verified": page(verified=False),
        "no filter, 100th page": page(before_id=filled.newest_id - 6000),
        "species never seen there": page(species="Lynx lynx"),
    }


def plan_rows(plans: list[Plan]) -> list[dict[str, Any]]:
    return [
        {
            "": f"{plan.case} [{plan.mode}]",
            "ms": plan.ms,
            "buffers": plan.buffers,
            "rows filtered out": plan.removed,
            "Seq Scan on images": "YES" if plan.scans_images else "no",
        }
        for plan in plans
    ]


def print_plans(plans: list[Plan]) -> None:
    """Every plan that reads images; a generic plan only where its shape differs from the custom one."""
    shape: dict[tuple[str, int], str] = {}
    for number, plan in enumerate(plans):
        if "images" not in plan.text:
            continue
        outline = re.sub(r"\(.*?\)|\d+(\.\d+)?", "", plan.text)
        key = (plan.case, number // 2)
        if plan.mode == "generic" and shape.get(key) == outline:
            print(f"--- {plan.case} [generic]: the same plan as the custom one\n")
            continue
        shape[key] = outline
        flag = "   <-- Seq Scan on images" if plan.scans_images else ""
        print(f"--- {plan.case} [{plan.mode}]{flag}\n{plan.text}\n")


async def seed(home: Any, count: int) -> tuple[World, Filled]:
    dsn = dsn_for(socket_directory(home / "data"), 5432)
    objects = FilesystemObjectStore(home / "data" / "objects")
    world = await seed_world(dsn, objects)
    return world, await fill(dsn, objects, world, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000, help="done photos added to project wolves")
    parser.add_argument("--loads", type=int, default=20, help="timed loads of each page")
    parser.add_argument("--sessions", type=int, default=20, help="browser sessions kept open on /gallery")
    args = parser.parse_args()
    started = time.monotonic()
    home = world_readable_tempdir("addax-bench-dashboard-")
    addax = AddaxProcess(home=home, env=environment())
    addax.start()
    try:
        addax.wait_healthy()
        world, filled = asyncio.run(seed(home, args.images))
        print(
            f"seeded {filled.photos} photos in {filled.events} events of project wolves in {filled.seconds:.1f} s",
            flush=True,
        )
        served.preload(addax)
        base_url = f"http://127.0.0.1:{addax.ui_port}"
        loads = asyncio.run(page_loads(base_url, world, filled, args.loads))
        failed = {row[""] for row in loads if not row["loads"]}
        really = asyncio.run(served_plans(addax, base_url, world, filled, failed))
        memory = asyncio.run(sessions(addax, base_url, args.sessions))
        plans = asyncio.run(explain(dsn_for(socket_directory(home / "data"), 5432), plan_cases(world, filled)))
    finally:
        addax.stop()
        subprocess.run(["rm", "-rf", str(home)], check=False)
    print()
    print_plans(plans)
    title = f"{filled.photos} photos in the project, {args.loads} loads each, 1280x860, cold cache unless warm"
    print(table(loads, title))
    print()
    print(table(memory, f"Memory with {args.sessions} browser sessions on /gallery"))
    print()
    print(table(plan_rows(plans), "Plans of the gallery's queries (EXPLAIN ANALYZE)"))
    scans = sorted({plan.case for plan in plans if plan.scans_images and plan.mode == "custom"})
    generic = sorted({plan.case for plan in plans if plan.scans_images and plan.mode == "generic"})
    print(f"\nSeq Scan on images in EXPLAIN, custom plans (what the service runs): {', '.join(scans) or 'none'}")
    print(
        "Seq Scan on images in generic plans (the gallery's page query sets plan_cache_mode = force_custom_plan, "
        f"so PostgreSQL never uses them): {', '.join(generic) or 'none'}"
    )
    print(
        f"Seq Scan on images in the {really.plans} plans the server made while loading each page once "
        f"(auto_explain): {len(really.scanning) or 'none'}"
    )
    for query in really.scanning:
        print(f"  {query}")
    print(f"whole bench: {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
