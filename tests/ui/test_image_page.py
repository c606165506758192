"""The image page in Chromium: an annotator corrects a roe deer into a red deer, a viewer only reads, a user of
another project gets "Not found"."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.ui.conftest import PHONE, Dashboard, needs_chromium, screenshot, signed_in_page

pytestmark = needs_chromium


@pytest.fixture
async def database(dashboard: Dashboard) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(dashboard.dsn)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
async def roe_deer(dashboard: Dashboard, database: asyncpg.Connection) -> AsyncIterator[int]:
    """The middle photo of a seeded roe-deer burst, unverified again afterwards for the other tests."""
    image_id = dashboard.world.bursts[("gate-cam", 3, "roe deer")][1]
    yield image_id
    await database.execute("DELETE FROM verifications WHERE image_id = $1", image_id)
    await database.execute("UPDATE images SET verified = false, stage = stage WHERE id = $1", image_id)


async def test_an_annotator_corrects_the_species_of_a_photo(
    dashboard: Dashboard, database: asyncpg.Connection, roe_deer: int
) -> None:
    from playwright.async_api import expect

    async with signed_in_page(dashboard, "annotator@example.org", path=f"/images/{roe_deer}") as page:
        await expect(page.get_by_text("What the models saw")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("deepfaune: roe deer (Capreolus capreolus) 88%")).to_be_visible()
        await expect(page.get_by_text("Its sequence: 3 photos")).to_be_visible()
        await expect(page.get_by_role("link", name="gate-cam")).to_be_visible()
        await screenshot(page, "image")

        species = page.get_by_test_id("species-0")
        await species.click()
        await expect(species).to_be_focused()  # the select's own input
        await species.fill("red deer (Cervus elaphus)")
        await expect(species).to_have_value("red deer (Cervus elaphus)")  # typed in full before Enter
        await page.keyboard.press("Enter")
        await expect(species).to_have_value(re.compile("Cervus elaphus"))
        photo = await page.get_by_test_id("photo").locator("img").first.bounding_box()
        assert photo is not None
        await page.get_by_text("Add a missed box").click()
        await expect(page.get_by_text("Draw the missed box")).to_be_visible()
        await page.mouse.move(photo["x"] + photo["width"] * 0.05, photo["y"] + photo["height"] * 0.1)
        await page.mouse.down()
        await page.mouse.move(photo["x"] + photo["width"] * 0.25, photo["y"] + photo["height"] * 0.5)
        await page.mouse.up()
        await expect(page.get_by_text("added box 1")).to_be_visible(timeout=10_000)
        await page.get_by_label("Notes").fill("antlers: a red deer")
        await page.get_by_test_id("save").click()
        await expect(page.get_by_text("Verified: red deer (Cervus elaphus)")).to_be_visible(timeout=10_000)

        await page.reload()
        await expect(page.get_by_text("Verified: red deer (Cervus elaphus)")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("by annotator@example.org", exact=False)).to_be_visible()
        await screenshot(page, "image-verified")

    stored = await database.fetchrow(
        """SELECT v.boxes, v.notes, u.email FROM verifications v JOIN users u ON u.id = v.verified_by
           WHERE v.image_id = $1""",
        roe_deer,
    )
    assert (
        stored is not None and stored["email"] == "annotator@example.org" and stored["notes"] == "antlers: a red deer"
    )
    deer, added = json.loads(stored["boxes"])  # a plain connection leaves jsonb as text
    assert deer["taxon"] == "Cervus elaphus" and deer["common_name"] == "red deer" and deer["detection"] == 0
    assert added["detection"] is None and added["label"] == "animal" and added["taxon"] is None
    x, y, w, h = added["bbox"]
    assert abs(x - 0.05) < 0.02 and abs(y - 0.1) < 0.02 and abs(w - 0.2) < 0.02 and abs(h - 0.4) < 0.02
    photo = await database.fetchrow("SELECT verified, taxa, labels FROM images WHERE id = $1", roe_deer)
    assert photo["verified"] and photo["taxa"] == ["Cervus elaphus"] and photo["labels"] == ["animal"]


async def test_the_page_fits_a_phone_and_confirms_with_the_keyboard(
    dashboard: Dashboard, database: asyncpg.Connection, roe_deer: int
) -> None:
    from playwright.async_api import expect

    async with signed_in_page(dashboard, "annotator@example.org", width=PHONE[0], path=f"/images/{roe_deer}") as page:
        await expect(page.get_by_text("What the models saw")).to_be_visible(timeout=20_000)
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE[0], f"the page is {width} px wide on a phone"
        await page.locator("body").press("c")
        await expect(page.get_by_text("Verified: roe deer (Capreolus capreolus)")).to_be_visible(timeout=10_000)
        await screenshot(page, "image")
    assert await database.fetchval("SELECT taxa FROM images WHERE id = $1", roe_deer) == ["Capreolus capreolus"]
    assert await database.fetchval("SELECT verified FROM images WHERE id = $1", roe_deer)


async def test_a_viewer_reads_and_another_projects_user_gets_not_found(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    wolf = dashboard.world.photo("gate-cam", 2, "wolf")
    async with signed_in_page(dashboard, "viewer@example.org", path=f"/images/{wolf}") as page:
        await expect(page.get_by_text("What the models saw")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("Not verified yet")).to_be_visible()
        for control in ("confirm", "save"):
            await expect(page.get_by_test_id(control)).to_have_count(0)
        await expect(page.get_by_text("Add a missed box")).to_have_count(0)
        await screenshot(page, "image-viewer")
    async with signed_in_page(dashboard, "otter@example.org", path=f"/images/{wolf}") as page:
        await expect(page.get_by_text("Not found")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("What the models saw")).to_have_count(0)
        assert await page.get_by_test_id("photo").count() == 0


async def test_an_annotator_tags_a_photo_and_a_viewer_only_reads_the_tags(
    dashboard: Dashboard, database: asyncpg.Connection
) -> None:
    from playwright.async_api import expect

    fox = dashboard.world.bursts[("meadow-cam", 3, "red fox")][0]
    async with signed_in_page(dashboard, "annotator@example.org", path=f"/images/{fox}") as page:
        await page.get_by_label("New tag").fill("for the report")
        await page.get_by_role("button", name="Add tag").click()
        await expect(page.get_by_text("for the report")).to_be_visible(timeout=20_000)
    tags = await database.fetch("SELECT t.* FROM image_tags t WHERE t.image_id = $1", fox)
    assert [row["tag"] for row in tags] == ["for the report"]
    async with signed_in_page(dashboard, "viewer@example.org", path=f"/images/{fox}") as page:
        await expect(page.get_by_text("for the report")).to_be_visible(timeout=20_000)
        await expect(page.get_by_label("New tag")).to_have_count(0)
