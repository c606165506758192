"""Names that people type (species, rule names, e-mail addresses) are shown as text, never run as markup."""

from __future__ import annotations

import asyncpg

from tests.ui.conftest import Dashboard, needs_chromium, signed_in_page

pytestmark = needs_chromium

DOUBLE = 'Fox" src="x" onerror="window.pwned=1" data-x="'
SINGLE = "x' onmouseover='window.pwned=1' onfocus='window.pwned=1' autofocus y='"
MARKUP = '<img src="x" onerror="window.pwned=1">'
HANDLERS = "document.querySelectorAll('[onerror],[onmouseover],[onfocus],[onload]').length"


async def test_hostile_species_rule_and_user_names_stay_text(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    world = dashboard.world
    otter_burst = world.bursts[("river-cam", 0, "Eurasian otter")]
    otter_user = world.users["otter@example.org"]
    database = await asyncpg.connect(dashboard.dsn)
    before = await database.fetchval("SELECT taxa FROM images WHERE id = $1", otter_burst[0])
    # As a verification, a rule form and an old account would have stored them.
    await database.execute("UPDATE images SET taxa = $2 WHERE id = ANY($1::bigint[])", otter_burst, [DOUBLE])
    await database.execute(
        """INSERT INTO alert_rules (user_id, project_id, name, kind, settings, channels)
           VALUES ($1, $2, $3, 'detection', '{}', '{email}')""",
        otter_user,
        world.otters,
        SINGLE,
    )
    await database.execute("INSERT INTO users (email, password_hash) VALUES ($1, 'x')", f"{SINGLE}@x.org")
    river_bend = world.sites["River bend"]
    await database.execute("UPDATE sites SET name = $2 WHERE id = $1", river_bend, MARKUP)  # shown on the map
    try:
        async with signed_in_page(dashboard, "otter@example.org", path="/gallery") as page:
            thumbnails = page.locator("img.addax-thumb")
            await expect(thumbnails).to_have_count(2, timeout=20_000)
            assert DOUBLE in [await thumbnail.get_attribute("alt") for thumbnail in await thumbnails.all()]
            assert await page.evaluate(HANDLERS) == 0 and await page.evaluate("window.pwned") is None
            await page.goto(dashboard.url("/alerts"))
            await expect(page.get_by_text(SINGLE).first).to_be_visible(timeout=20_000)
            assert await page.evaluate(HANDLERS) == 0 and await page.evaluate("window.pwned") is None
            await page.goto(dashboard.url("/map"))
            await expect(page.get_by_text(MARKUP).first).to_be_visible(timeout=20_000)  # the site's label, as text
            assert await page.evaluate(HANDLERS) == 0 and await page.evaluate("window.pwned") is None
        async with signed_in_page(dashboard, "root@example.org", path="/admin?tab=users") as page:
            await expect(page.get_by_text(f"{SINGLE}@x.org").first).to_be_visible(timeout=20_000)
            assert await page.evaluate(HANDLERS) == 0 and await page.evaluate("window.pwned") is None
    finally:
        await database.execute("UPDATE images SET taxa = $2 WHERE id = ANY($1::bigint[])", otter_burst, before)
        await database.execute("DELETE FROM alert_rules WHERE user_id = $1 AND name = $2", otter_user, SINGLE)
        await database.execute("DELETE FROM users WHERE email = $1", f"{SINGLE}@x.org")
        await database.execute("UPDATE sites SET name = 'River bend' WHERE id = $1", river_bend)
        await database.close()
