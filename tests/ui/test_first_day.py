"""The issue's "done when", in one go: a new user signs in, finds yesterday's roe deer at North gate, corrects a
misidentified photo and sets up a Telegram alert for wolves, only by clicking what the pages show."""

from __future__ import annotations

import asyncio
import re

import asyncpg

from tests.ui.conftest import Dashboard, needs_chromium, screenshot, signed_in_page

pytestmark = needs_chromium

NEWBIE = "first.day@example.org"


async def test_a_new_user_finds_corrects_and_sets_up_an_alert(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    added = await asyncio.to_thread(
        dashboard.process.cli,
        "user", "add", NEWBIE, "--role", "annotator", "--project", "wolves", "--password-stdin",
        stdin="my first day\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    database = await asyncpg.connect(dashboard.dsn)
    corrected: int | None = None
    try:
        async with signed_in_page(dashboard, NEWBIE, password="my first day") as page:
            await page.get_by_role("link", name="Gallery", exact=True).click()
            await page.get_by_label("Site").click()
            await page.get_by_role("option", name="North gate").click()
            await page.wait_for_url("**site=*", timeout=20_000)
            await page.get_by_label("Species").click()
            await page.get_by_role("option", name="roe deer (Capreolus capreolus)").click()
            await page.wait_for_url("**species=*", timeout=20_000)
            await page.get_by_role("button", name="Yesterday").click()
            tiles = page.locator("a.addax-tile")
            await expect(tiles).to_have_count(2, timeout=20_000)
            await screenshot(page, "first-day-found")

            await tiles.first.click()
            await page.wait_for_url("**/images/*", timeout=20_000)
            corrected = int(page.url.rsplit("/", 1)[1])
            species = page.get_by_test_id("species-0")
            await species.click()
            await expect(species).to_be_focused()  # the select's own input
            await species.fill("red deer (Cervus elaphus)")
            await expect(species).to_have_value("red deer (Cervus elaphus)")  # typed in full before Enter
            await page.keyboard.press("Enter")
            await expect(species).to_have_value(re.compile("Cervus elaphus"))  # taken, however slow the page
            await page.get_by_test_id("save").click()
            await expect(page.get_by_text("Verified: red deer (Cervus elaphus)")).to_be_visible(timeout=20_000)
            await screenshot(page, "first-day-corrected")

            await page.get_by_role("link", name="Alerts", exact=True).click()
            await page.get_by_role("button", name="New rule").click()
            await page.get_by_label("Name").fill("Wolves")
            await page.get_by_role("checkbox", name="Telegram").click()
            await page.get_by_label("Species (search)").click()
            await page.get_by_label("Species (search)").fill("wolf")
            await page.get_by_role("option", name="wolf, gray wolf, grey wolf (Canis lupus)").click()
            await page.keyboard.press("Escape")
            await page.get_by_role("button", name="Save").click()
            await expect(page.get_by_text("Wolves", exact=True)).to_be_visible(timeout=20_000)
            await screenshot(page, "first-day-alert")

        verification = await database.fetchrow(
            """SELECT u.email, i.taxa FROM verifications v JOIN users u ON u.id = v.verified_by
               JOIN images i ON i.id = v.image_id WHERE v.image_id = $1""",
            corrected,
        )
        assert verification is not None and verification["email"] == NEWBIE
        assert verification["taxa"] == ["Cervus elaphus"]
        rule = await database.fetchrow(
            """SELECT r.channels, r.settings::text AS settings FROM alert_rules r JOIN users u ON u.id = r.user_id
               WHERE u.email = $1 AND r.name = 'Wolves'""",
            NEWBIE,
        )
        assert rule is not None and rule["channels"] == ["email", "telegram"] and "Canis lupus" in rule["settings"]
    finally:  # the shared world as it was, for the other tests
        if corrected is not None:
            await database.execute("DELETE FROM verifications WHERE image_id = $1", corrected)
            await database.execute("UPDATE images SET verified = false, stage = stage WHERE id = $1", corrected)
        await database.execute("DELETE FROM users WHERE email = $1", NEWBIE)
        await database.close()
