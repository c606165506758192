"""/insights in Chromium: the charts draw, a CSV holds the chart's numbers, another project's data stays hidden."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import asyncpg
import pytest

from addax.domain.insights import MISSED, REMOVED
from addax.store.accounts import Role, User
from addax.ui.pages.insights import View, read_view
from addax.ui.session import NotFound, Viewer
from tests.ui.conftest import PHONE, Dashboard, needs_chromium, screenshot, signed_in_page

OTTER = Viewer(User(7, "otter@example.org", "", False, False), {2: Role.VIEWER}, {2: "otters"})


def test_the_url_gives_the_view_and_only_the_viewer_s_projects() -> None:
    view = read_view(OTTER, {"from": "2024-06-30", "to": "2024-06-01", "interval": "60", "bucket": "day", "per": "box"})
    assert view is not None and view.project_id == 2
    assert (view.first.isoformat(), view.last.isoformat()) == ("2024-06-01", "2024-06-30")  # swapped round
    assert (view.interval_min, view.bucket, view.per) == (60, "day", "box")
    assert read_view(OTTER, {"interval": "7"}).interval_min == 30  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        read_view(OTTER, {"project": "1"})
    with pytest.raises(NotFound):
        read_view(OTTER, {"project": "wolves"})
    nobody = Viewer(User(8, "new@example.org", "", False, False), {}, {})
    assert read_view(nobody, {}) is None
    assert View(2, view.first, view.last, species_a="Vulpes vulpes").url() == (
        "/insights?project=2&from=2024-06-01&to=2024-06-30&interval=30&bucket=week&a=Vulpes+vulpes&per=photo"
    )


@needs_chromium
async def test_an_admin_reads_the_charts_and_downloads_their_numbers(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    wolves = dashboard.world.wolves
    async with signed_in_page(dashboard, "admin@example.org", path="/insights") as page:
        over_time = page.locator("[data-chart=photos-over-time]")
        await expect(over_time.locator("canvas").first).to_be_visible(timeout=20_000)
        for chart in ["activity-by-hour", "detections-per-100-trap-days", "naive-occupancy", "deployments"]:
            await expect(page.locator(f"[data-chart={chart}] canvas").first).to_be_visible(timeout=20_000)

        async with page.expect_download() as download_info:
            await over_time.get_by_role("button", name="Download CSV").click()
        download = await download_info.value
        rows = list(csv.reader(io.StringIO(Path(await download.path()).read_text())))
        assert rows[0] == ["species", "week", "photos"]
        per_species: Counter[str] = Counter()
        for taxon, _, photos in rows[1:]:
            per_species[taxon] += int(photos)
        connection = await asyncpg.connect(dashboard.dsn)
        try:
            expected = await connection.fetch(
                """SELECT t AS taxon, count(*) AS photos FROM images, unnest(taxa) t
                   WHERE project_id = $1 AND stage = 'done' GROUP BY 1""",
                wolves,
            )
        finally:
            await connection.close()
        assert per_species == {row["taxon"]: row["photos"] for row in expected}
        assert "Capreolus capreolus" in per_species

        await expect(page.get_by_text("Activity overlap: Δ1")).to_be_visible()
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "insights")


@needs_chromium
async def test_insights_on_a_phone(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    async with signed_in_page(dashboard, "admin@example.org", width=PHONE[0], path="/insights") as page:
        await expect(page.locator("[data-chart=photos-over-time] canvas").first).to_be_visible(timeout=20_000)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE[0]  # nothing wider than the phone
        await screenshot(page, "insights")


@needs_chromium
async def test_another_project_s_insights_are_not_found(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    wolves, otters = dashboard.world.wolves, dashboard.world.otters
    async with signed_in_page(dashboard, "otter@example.org", path=f"/insights?project={wolves}") as page:
        await expect(page.get_by_text("Not found")).to_be_visible(timeout=20_000)
        await expect(page.locator("canvas")).to_have_count(0)
        await page.goto(dashboard.url("/insights"))
        await expect(page.locator("[data-chart=photos-over-time] canvas").first).to_be_visible(timeout=20_000)
        assert f"project={otters}" in page.url or "project=" not in page.url
        await expect(page.get_by_text("Capreolus capreolus")).to_have_count(0)


async def _lab(dashboard: Dashboard) -> tuple[int, int]:
    """A user of their own with an empty project and one whose photos people verified: (empty id, lab id)."""
    connection = await asyncpg.connect(dashboard.dsn)
    try:
        async with connection.transaction():
            password_hash = await connection.fetchval(
                "SELECT password_hash FROM users WHERE email = 'admin@example.org'"
            )
            user = await connection.fetchval(
                "INSERT INTO users (email, password_hash) VALUES ('insights@example.org', $1) RETURNING id",
                password_hash,
            )
            empty, lab = [
                await connection.fetchval("INSERT INTO projects (name) VALUES ($1) RETURNING id", name)
                for name in ("insights-empty", "insights-lab")
            ]
            for project in (empty, lab):
                await connection.execute(
                    "INSERT INTO memberships (user_id, project_id, role) VALUES ($1, $2, 'viewer')", user, project
                )
            site = await connection.fetchval(
                "INSERT INTO sites (project_id, name, location) VALUES ($1, 'Lab pond',"
                " ST_SetSRID(ST_MakePoint(13.4, 52.5), 4326)::geography) RETURNING id",
                lab,
            )
            camera = await connection.fetchval(
                "INSERT INTO cameras (project_id, identity, identity_kind, name)"
                " VALUES ($1, 'lab-1', 'serial', 'lab-cam') RETURNING id",
                lab,
            )
            await connection.execute(
                "INSERT INTO deployments (camera_id, site_id, starts_on) VALUES ($1, $2, current_date - 20)",
                camera,
                site,
            )
            # model said: fox, fox, deer; people said: fox, deer (and a boar the model missed), nothing
            for number, (said, truth) in enumerate([("fox", ["fox"]), ("fox", ["deer", "boar"]), ("deer", [])]):
                image = await connection.fetchval(
                    """INSERT INTO images (project_id, camera_id, site_id, stage, sha256, original_name, source,
                                           size_bytes, taken_at, utc_offset_minutes)
                       VALUES ($1, $2, $3, 'classified', $4, 'lab.jpg', 'import', 1, now() - interval '2 days', 60)
                       RETURNING id""",
                    lab,
                    camera,
                    site,
                    bytes([number]) * 32,
                )
                detection = await connection.fetchval(
                    "INSERT INTO detections (image_id, index, label, score, bbox, model)"
                    " VALUES ($1, 0, 'animal', 0.9, '{0.1,0.1,0.2,0.2}', 'md') RETURNING id",
                    image,
                )
                await connection.execute(
                    "INSERT INTO classifications (detection_id, taxon, score, model) VALUES ($1, $2, 0.8, 'df')",
                    detection,
                    said,
                )
                await connection.execute("UPDATE images SET stage = 'done' WHERE id = $1", image)
                boxes = [{"detection": 0 if i == 0 else None, "taxon": t, "count": 1} for i, t in enumerate(truth)]
                await connection.execute(
                    "INSERT INTO verifications (image_id, boxes, blank) VALUES ($1, $2::jsonb, $3)",
                    image,
                    json.dumps(boxes),
                    not truth,
                )
                await connection.execute("UPDATE images SET verified = true, taxa = $2 WHERE id = $1", image, truth)
    finally:
        await connection.close()
    return empty, lab


@needs_chromium
async def test_nothing_yet_and_the_model_against_verified_photos(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    empty, lab = await _lab(dashboard)
    async with signed_in_page(dashboard, "insights@example.org", path=f"/insights?project={empty}") as page:
        await expect(page.locator(".nothing-yet")).to_have_count(9, timeout=20_000)
        await expect(page.locator("canvas")).to_have_count(0)

        await page.goto(dashboard.url(f"/insights?project={lab}&per=box"))
        model = page.locator("[data-chart=confusion-per-box]")
        await expect(model.locator("canvas").first).to_be_visible(timeout=20_000)
        async with page.expect_download() as download_info:
            await model.get_by_role("button", name="Download CSV").click()
        rows = list(csv.reader(io.StringIO(Path(await (await download_info.value).path()).read_text())))
        assert rows[0] == ["verified", "model", "boxes"]
        assert sorted(rows[1:]) == sorted(
            [["fox", "fox", "1"], ["deer", "fox", "1"], ["boar", MISSED, "1"], [REMOVED, "deer", "1"]]
        )
        scores = page.locator("[data-chart=precision-recall-per-box]")
        await expect(scores.get_by_role("row", name="fox")).to_contain_text("0.50")  # precision 1/2, recall 1
        await page.evaluate("window.scrollTo(0, 0)")
        await screenshot(page, "insights-verified")
