"""``/alerts`` in Chromium: a rule made through the form lands in alert_rules, a wrong one is refused next to its
field, Telegram links with a one-time t.me link and its QR code, and the log lists what was sent.

The page runs on a service of this module's own whose Telegram bot is the stand-in (the shared dashboard has
no bot), seeded with the same world as the shared one.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from tests.background_servers import BackgroundServers
from tests.conftest import world_readable_tempdir
from tests.ui.conftest import Dashboard, needs_chromium, screenshot, seeded_dashboard, signed_in_page

pytestmark = needs_chromium

VIEWER = "viewer@example.org"


@pytest.fixture(scope="module")
def servers() -> Iterator[BackgroundServers]:
    folder = world_readable_tempdir("addax-alerts-page-servers-")
    with BackgroundServers(folder) as running:
        yield running
    subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.fixture(scope="module")
def with_bot(servers: BackgroundServers) -> Iterator[Dashboard]:
    bot = servers.telegram.settings()
    settings = {
        "ADDAX_TELEGRAM_BOT_TOKEN": bot.bot_token,
        "ADDAX_TELEGRAM_API_BASE_URL": bot.api_base_url,
        "ADDAX_TELEGRAM_POLL_TIMEOUT_S": "5",
    }
    with seeded_dashboard("addax-alerts-page-", settings) as seeded:
        yield seeded


async def test_a_viewer_makes_a_wolf_rule_through_the_form(with_bot: Dashboard) -> None:
    from playwright.async_api import expect

    name = "Wolves by the gate"  # renamed through the form below
    async with signed_in_page(with_bot, VIEWER, path="/alerts") as page:
        await page.get_by_role("button", name="New rule").click()
        await page.get_by_label("Name").fill(name)
        await page.get_by_role("checkbox", name="Telegram").click()
        await page.get_by_label("Species (search)").click()
        await page.get_by_label("Species (search)").fill("wolf")
        await page.get_by_role("option", name="wolf, gray wolf, grey wolf (Canis lupus)").click()
        await page.keyboard.press("Escape")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_text(name, exact=True)).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("wolf · score ≥ 0.50 · e-mail + Telegram")).to_be_visible()
        await screenshot(page, "alerts")

        card = page.locator(".rule-card").filter(has_text=name)
        await card.get_by_role("button", name="Edit").click()
        await expect(page.get_by_text("Change the rule")).to_be_visible()
        name = "Wolves anywhere"
        await page.get_by_label("Name").fill(name)
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_text(name, exact=True)).to_be_visible(timeout=20_000)

    connection = await asyncpg.connect(with_bot.dsn)
    try:
        row = await connection.fetchrow(
            """SELECT r.kind, r.settings, r.channels, r.enabled, r.project_id FROM alert_rules r
               JOIN users u ON u.id = r.user_id WHERE u.email = $1 AND r.name = $2""",
            VIEWER,
            name,
        )
    finally:
        await connection.close()
    assert row is not None
    settings = json.loads(row["settings"])  # a plain connection: jsonb arrives as text, and holds an object
    assert (row["kind"], row["channels"], row["enabled"]) == ("detection", ["email", "telegram"], True)
    assert settings["species"] == ["Canis lupus"] and row["project_id"] == with_bot.world.wolves


async def test_a_wrong_rule_is_refused_next_to_its_field(with_bot: Dashboard) -> None:
    from playwright.async_api import expect

    async with signed_in_page(with_bot, VIEWER, path="/alerts", width=390) as page:
        await page.get_by_role("button", name="New rule").click()
        await page.get_by_role("checkbox", name="e-mail").click()
        await page.get_by_label("Name").fill("Nowhere to send")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_text("channels: at least one channel")).to_be_visible(timeout=20_000)
        await page.get_by_label("Name").fill("   ")
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_text("name: must be a non-empty string")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("channels: at least one channel")).to_be_hidden()
        await screenshot(page, "alerts-form-error")
    connection = await asyncpg.connect(with_bot.dsn)
    try:
        assert await connection.fetchval("SELECT count(*) FROM alert_rules WHERE name = 'Nowhere to send'") == 0
    finally:
        await connection.close()


async def test_link_telegram_shows_a_one_time_link_and_its_qr_code(
    with_bot: Dashboard, servers: BackgroundServers
) -> None:
    from playwright.async_api import expect

    async with signed_in_page(with_bot, VIEWER, path="/alerts", width=390) as page:
        await page.get_by_role("tab", name="Channels").click()
        await expect(page.get_by_text("Not linked")).to_be_visible(timeout=20_000)
        await page.get_by_role("button", name="Link Telegram").click()
        link = page.locator("a[href^='https://t.me/AddaxTestBot?start=']")
        await expect(link).to_be_visible(timeout=20_000)
        await expect(link).to_have_text(re.compile(r"^https://t\.me/AddaxTestBot\?start=[\w-]{20,}$"))
        qr = page.locator("img[src^='data:image/svg+xml']")
        await expect(qr).to_be_visible()
        await expect(qr).to_have_js_property("complete", True)
        await screenshot(page, "alerts-telegram")

        token = (await link.inner_text()).split("start=", 1)[1]

        async def start_in_telegram() -> None:
            servers.telegram.queue_message(4242, f"/start {token}", username="ranger")

        servers.run(start_in_telegram())
        await expect(page.get_by_text("Linked to chat @ranger (4242).")).to_be_visible(timeout=30_000)
        await page.get_by_role("button", name="Unlink").click()
        await expect(page.get_by_text("Not linked")).to_be_visible(timeout=20_000)

    connection = await asyncpg.connect(with_bot.dsn)
    try:
        links = await connection.fetchval(
            "SELECT count(*) FROM telegram_links t JOIN users u ON u.id = t.user_id WHERE u.email = $1", VIEWER
        )
    finally:
        await connection.close()
    assert links == 0


async def test_trying_a_rule_on_past_photos_says_whether_it_would_alert(with_bot: Dashboard) -> None:
    from playwright.async_api import expect

    name = f"Wolf try {uuid.uuid4().hex[:6]}"
    settings = {"species": ["Canis lupus"], "min_score": 0.3}
    connection = await asyncpg.connect(with_bot.dsn)
    try:
        await connection.execute(
            """INSERT INTO alert_rules (user_id, project_id, name, kind, settings, channels, enabled)
               SELECT id, $1, $2, 'detection', $3::jsonb, ARRAY['email'], true FROM users WHERE email = $4""",
            with_bot.world.wolves,
            name,
            json.dumps(settings),
            VIEWER,
        )
    finally:
        await connection.close()
    wolf, fox = with_bot.world.photo("meadow-cam", 2, "wolf"), with_bot.world.photo("meadow-cam", 3, "red fox")

    async with signed_in_page(with_bot, VIEWER, path="/alerts", width=390) as page:
        card = page.locator(".rule-card").filter(has_text=name)
        await card.get_by_role("button", name="Try").click()
        await page.get_by_role("img", name=f"photo {wolf}").click()
        await page.get_by_role("button", name="Try it").click()
        await expect(page.get_by_text(re.compile(r"^Would alert: "))).to_be_visible(timeout=20_000)
        await page.get_by_role("img", name=f"photo {fox}").click()
        await page.get_by_role("button", name="Try it").click()
        answer = page.get_by_text(
            re.compile(r"^Would not alert, because the species seen .* is not one of Canis lupus")
        )
        await expect(answer).to_be_visible(timeout=20_000)
        await screenshot(page, "alerts-try")


async def test_the_log_lists_my_notifications_and_why_one_failed(with_bot: Dashboard) -> None:
    from playwright.async_api import expect

    connection = await asyncpg.connect(with_bot.dsn)
    try:
        user_id = await connection.fetchval("SELECT id FROM users WHERE email = $1", VIEWER)
        for key, status, subject, error in [
            ("page-test:sent", "sent", "Wolf at North gate (gate-cam), 02:14", None),
            ("page-test:failed", "failed", "Wolf at South meadow (meadow-cam), 03:40", "550 mailbox unavailable"),
        ]:
            await connection.execute(
                """INSERT INTO notifications (delivery_key, user_id, project_id, channel, recipient, kind, subject,
                       payload, status, error)
                   VALUES ($1, $2, $3, 'email', $4, 'detection', $5, '{}'::jsonb, $6, $7)""",
                key,
                user_id,
                with_bot.world.wolves,
                VIEWER,
                subject,
                status,
                error,
            )
    finally:
        await connection.close()

    async with signed_in_page(with_bot, VIEWER, path="/alerts") as page:
        await page.get_by_role("tab", name="Log").click()
        await expect(page.get_by_text("Wolf at North gate (gate-cam), 02:14")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("Why it failed: 550 mailbox unavailable")).to_be_visible()
        await screenshot(page, "alerts-log")


async def test_an_admin_sees_the_teams_rules_but_changes_and_deletes_only_their_own(with_bot: Dashboard) -> None:
    from playwright.async_api import expect

    theirs, mine = f"Viewer's boar {uuid.uuid4().hex[:6]}", f"Admin's digest {uuid.uuid4().hex[:6]}"
    connection = await asyncpg.connect(with_bot.dsn)
    try:
        for owner, name, kind, settings in [
            (VIEWER, theirs, "detection", {"species": ["Sus scrofa"]}),
            ("admin@example.org", mine, "digest", {"at": "07:00"}),
        ]:
            await connection.execute(
                """INSERT INTO alert_rules (user_id, project_id, name, kind, settings, channels, enabled)
                   SELECT id, $1, $2, $3, $4::jsonb, ARRAY['email'], true FROM users WHERE email = $5""",
                with_bot.world.wolves,
                name,
                kind,
                json.dumps(settings),
                owner,
            )
    finally:
        await connection.close()

    async with signed_in_page(with_bot, "admin@example.org", path="/alerts", width=390) as page:
        their_card = page.locator(".rule-card").filter(has_text=theirs)
        await expect(their_card.get_by_text(f"by {VIEWER}")).to_be_visible(timeout=20_000)
        await expect(their_card.get_by_role("button", name="Edit")).to_have_count(0)
        await screenshot(page, "alerts-team")
        my_card = page.locator(".rule-card").filter(has_text=mine)
        await my_card.get_by_role("button", name="Delete").click()
        await expect(page.get_by_text(f"Delete the rule “{mine}”?")).to_be_visible()
        await page.get_by_role("button", name="Keep it").click()
        await expect(my_card).to_be_visible()
        await my_card.get_by_role("button", name="Delete").click()
        await page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        await expect(page.get_by_text(mine, exact=True)).to_have_count(0, timeout=20_000)

    connection = await asyncpg.connect(with_bot.dsn)
    try:
        left = await connection.fetch("SELECT name FROM alert_rules WHERE name = ANY($1::text[])", [theirs, mine])
    finally:
        await connection.close()
    assert [row["name"] for row in left] == [theirs]
