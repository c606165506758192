"""The gallery in Chromium: filters in the URL, one tile per sequence, only the viewer's projects."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.ui.conftest import PHONE, Dashboard, needs_chromium, screenshot, signed_in_page

pytestmark = needs_chromium


async def test_find_yesterdays_roe_deer_at_north_gate(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    world = dashboard.world
    async with signed_in_page(dashboard, "viewer@example.org", path="/gallery") as page:
        tiles = page.locator("a.addax-tile")
        await expect(tiles).to_have_count(12, timeout=20_000)  # 12 sequences of 3 photos in "wolves"
        await screenshot(page, "gallery")

        await page.get_by_label("Site").click()
        await page.get_by_role("option", name="North gate").click()
        await page.wait_for_url("**site=*", timeout=20_000)
        await expect(tiles).to_have_count(8, timeout=20_000)
        await page.get_by_label("Species").click()
        await page.get_by_role("option", name="roe deer (Capreolus capreolus)").click()
        await page.wait_for_url("**species=*", timeout=20_000)
        await expect(tiles).to_have_count(4, timeout=20_000)
        await page.get_by_role("button", name="Yesterday").click()
        await page.wait_for_url("**until=*", timeout=20_000)
        await expect(tiles).to_have_count(2, timeout=20_000)
        newest_of_each_burst = {f"/images/{photo}" for photo in world.bursts[("gate-cam", 1, "roe deer")][2::3]}
        assert {await tile.get_attribute("href") for tile in await tiles.all()} == newest_of_each_burst
        # "wolves" keeps Berlin time: late in the UTC evening its yesterday is UTC's today
        yesterday = (datetime.now(ZoneInfo("Europe/Berlin")).date() - timedelta(days=1)).isoformat()
        assert f"since={yesterday}" in page.url and f"site={world.sites['North gate']}" in page.url
        await expect(tiles.first.get_by_text("3 photos")).to_be_visible()
        await screenshot(page, "gallery-filtered")
        shared = page.url

    async with signed_in_page(
        dashboard, "annotator@example.org", path=shared.split(str(dashboard.process.ui_port))[1]
    ) as page:
        await expect(page.locator("a.addax-tile")).to_have_count(2, timeout=20_000)  # the shared link opens the view


async def test_the_gallery_shows_only_the_viewers_projects(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    world = dashboard.world
    async with signed_in_page(dashboard, "otter@example.org", path="/gallery", width=PHONE[0]) as page:
        await expect(page.locator("a.addax-tile")).to_have_count(2, timeout=20_000)
        await expect(page.get_by_text("Eurasian otter").first).to_be_visible()
        await screenshot(page, "gallery")
        await page.goto(dashboard.url(f"/gallery?project={world.wolves}"))
        await expect(page.get_by_text("Not found")).to_be_visible(timeout=20_000)
        await expect(page.locator("a.addax-tile")).to_have_count(0)
        await page.goto(dashboard.url(f"/gallery?site={world.sites['North gate']}"))
        await expect(page.get_by_text("No photos match these filters.")).to_be_visible(timeout=20_000)


async def test_signing_in_comes_back_to_the_page_asked_for_with_its_filters(dashboard: Dashboard) -> None:
    from playwright.async_api import async_playwright, expect

    from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS
    from tests.ui.seed import PASSWORD

    asked = f"/gallery?site={dashboard.world.sites['South meadow']}&species=Canis+lupus"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page()
        await page.goto(dashboard.url(asked))
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=20_000)
        assert "/login?next=" in page.url
        await page.get_by_label("E-mail").fill("viewer@example.org")
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(dashboard.url(asked), timeout=20_000)
        await expect(page.locator("a.addax-tile")).to_have_count(1, timeout=20_000)  # the one wolf sequence there
        await browser.close()
