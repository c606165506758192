"""/map, /cameras and /cameras/{id} in Chromium: offline tiles leave a notice and the positions; each user sees
their projects' cameras only; admins approve and correct, annotators log field work, viewers read."""

from __future__ import annotations

import asyncio
import io
import re
import uuid

from PIL import Image

from tests.ui.conftest import PHONE, Dashboard, needs_chromium, screenshot, signed_in_page
from tests.waiting import eventually

pytestmark = needs_chromium


async def _sql(dashboard: Dashboard, sql: str) -> list[dict]:
    return await asyncio.to_thread(dashboard.process.query, sql)


async def test_the_map_shows_positions_and_says_tiles_failed_offline(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    for width in (1280, PHONE[0]):
        async with signed_in_page(dashboard, "admin@example.org", width=width, path="/map") as page:
            await expect(page.get_by_text("Map tiles could not be loaded")).to_be_visible(timeout=20_000)
            # wolves only: two sites, two placed cameras (otters' River bend is not drawn)
            await expect(page.locator("path.addax-site")).to_have_count(2)
            await expect(page.locator("path.addax-camera")).to_have_count(2)
            await expect(page.locator("path.addax-camera.addax-recent")).to_have_count(2)
            await expect(page.get_by_text("ridge-cam")).to_be_visible()  # no position: listed under the map
            await screenshot(page, "map")
            if width > PHONE[0]:
                await page.locator("path.addax-camera").first.click(force=True)
                link = page.get_by_role("link", name="Open camera")
                await expect(link).to_be_visible()
                await link.click()
                await expect(page).to_have_url(re.compile(r"/cameras/\d+$"), timeout=30_000)


async def test_the_camera_list_holds_the_viewers_projects_and_admins_approve(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    name = f"trail-{uuid.uuid4().hex[:6]}"
    (row,) = await _sql(
        dashboard,
        f"""INSERT INTO cameras (project_id, identity, identity_kind, name, status)
            VALUES ({dashboard.world.wolves}, 'SN-{name}', 'serial', '{name}', 'pending') RETURNING id""",
    )
    async with signed_in_page(dashboard, "admin@example.org", path="/cameras") as page:
        await expect(page.get_by_role("link", name="gate-cam", exact=True)).to_be_visible(timeout=20_000)
        await expect(page.get_by_role("link", name="meadow-cam", exact=True)).to_be_visible()
        await expect(page.get_by_text("river-cam")).to_have_count(0)
        await screenshot(page, "cameras")
        waiting = page.locator(".q-card .row", has_text=name)
        await waiting.get_by_role("button", name="Approve").click()
        status = f"SELECT status::text AS status FROM cameras WHERE id = {row['id']}"
        await eventually(
            lambda: _sql_equals(dashboard, status, [{"status": "active"}]), timeout=20, what="the camera approved"
        )
    async with signed_in_page(dashboard, "admin@example.org", path="/cameras", width=PHONE[0]) as page:
        await expect(page.get_by_role("link", name="gate-cam", exact=True)).to_be_visible(timeout=20_000)
        await screenshot(page, "cameras")


async def test_a_camera_page_charts_its_history_and_logs_field_work(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    camera = dashboard.world.cameras["gate-cam"]
    note = f"fresh batteries {uuid.uuid4().hex[:6]}"
    async with signed_in_page(dashboard, "annotator@example.org", path=f"/cameras/{camera}") as page:
        await expect(page.locator(".addax-chart canvas").first).to_be_visible(timeout=20_000)
        await expect(page.locator(".addax-chart")).to_have_count(5)
        await expect(page.get_by_role("button", name="Place by hand")).to_have_count(0)  # admins only
        await page.get_by_label("Note").fill(note)
        await page.get_by_role("button", name="Log it").click()
        await expect(page.get_by_text(note)).to_be_visible(timeout=20_000)
        logged = await _sql(
            dashboard, f"SELECT kind::text, done_by_email FROM camera_maintenance WHERE note = '{note}'"
        )
        assert logged == [{"kind": "batteries", "done_by_email": "annotator@example.org"}]

        await page.locator("input[type=file]").set_input_files(
            files=[{"name": "spot.jpg", "mimeType": "image/jpeg", "buffer": _jpeg()}]
        )
        await expect(page.get_by_text("by annotator@example.org").first).to_be_visible(timeout=20_000)
        key = await asyncio.to_thread(
            dashboard.process.value,
            f"SELECT object_key FROM camera_reference_photos WHERE camera_id = {camera} ORDER BY id DESC LIMIT 1",
        )
        assert str(key).startswith(f"reference/{camera}/") and str(key).endswith(".jpg")
        await expect(page.locator(f"img[src^='/field-photos/{camera}']")).to_be_visible(timeout=20_000)
        await screenshot(page, "camera")

        await page.get_by_label("New tag").fill("Solar  Panel")
        await page.get_by_role("button", name="Add tag").click()
        await expect(page.get_by_text("solar panel", exact=True)).to_be_visible(timeout=20_000)
    async with signed_in_page(dashboard, "admin@example.org", path=f"/cameras/{camera}", width=PHONE[0]) as page:
        await expect(page.locator(".addax-chart canvas").first).to_be_visible(timeout=20_000)
        await expect(page.get_by_text(note)).to_be_visible()
        await screenshot(page, "camera")


async def test_an_admin_places_a_camera_by_hand_and_renames_its_site(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    tag = uuid.uuid4().hex[:6]
    wolves = dashboard.world.wolves
    (site,) = await _sql(
        dashboard,
        f"""INSERT INTO sites (project_id, name, location)
            VALUES ({wolves}, 'Clearing {tag}', ST_SetSRID(ST_MakePoint(13.41, 52.52), 4326)::geography)
            RETURNING id""",
    )
    (camera,) = await _sql(
        dashboard,
        f"""INSERT INTO cameras (project_id, identity, identity_kind, name, status)
            VALUES ({wolves}, 'SN-nogps-{tag}', 'serial', 'nogps-{tag}', 'active') RETURNING id""",
    )
    async with signed_in_page(dashboard, "admin@example.org", path=f"/cameras/{camera['id']}") as page:
        await page.get_by_role("button", name="Place by hand").click()
        await page.get_by_label("Site").click()
        await page.get_by_role("option", name=f"Clearing {tag}").click()
        await page.get_by_role("button", name="Place", exact=True).click()
        placed = f"SELECT site_id FROM deployments WHERE camera_id = {camera['id']} AND ends_on IS NULL"
        await eventually(
            lambda: _sql_equals(dashboard, placed, [{"site_id": site["id"]}]), timeout=20, what="the placement"
        )
        await expect(page.get_by_text(f"now: Clearing {tag}")).to_be_visible(timeout=20_000)
        await page.get_by_role("button", name="Rename site").click()
        await page.get_by_label("New name").fill(f"Beaver dam {tag}")
        await page.get_by_role("button", name="Rename", exact=True).click()
        renamed = f"SELECT name FROM sites WHERE id = {site['id']}"
        await eventually(
            lambda: _sql_equals(dashboard, renamed, [{"name": f"Beaver dam {tag}"}]), timeout=20, what="the rename"
        )


async def test_a_viewer_reads_but_sees_no_controls_and_no_other_project(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    gate, river = dashboard.world.cameras["gate-cam"], dashboard.world.cameras["river-cam"]
    async with signed_in_page(dashboard, "viewer@example.org", path="/cameras") as page:
        await expect(page.get_by_role("link", name="gate-cam", exact=True)).to_be_visible(timeout=20_000)
        for control in ("Approve", "Not moved", "Reassign", "Rename site", "Place by hand", "New site group"):
            await expect(page.get_by_role("button", name=control)).to_have_count(0)
        await page.goto(dashboard.url(f"/cameras/{gate}"))
        await expect(page.locator(".addax-chart canvas").first).to_be_visible(timeout=20_000)
        for control in ("Log it", "Add tag", "Approve", "Place by hand", "Rename site"):
            await expect(page.get_by_role("button", name=control)).to_have_count(0)
        await expect(page.locator("input[type=file]")).to_have_count(0)
    async with signed_in_page(dashboard, "admin@example.org", path=f"/cameras/{river}") as page:
        await expect(page.get_by_text("Not found")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("river-cam")).to_have_count(0)


async def _sql_equals(dashboard: Dashboard, sql: str, expected: list[dict]) -> bool:
    return await _sql(dashboard, sql) == expected


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (90, 120, 60)).save(buffer, format="JPEG")
    return buffer.getvalue()
