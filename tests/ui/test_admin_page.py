"""``/admin`` in Chromium: a project admin retries failed work and makes a device token (shown once); a viewer
gets no admin controls; one project's admin sees nothing of another project's users and accounts."""

from __future__ import annotations

import asyncio
import hashlib
import uuid

from tests.ui.conftest import Dashboard, needs_chromium, screenshot, signed_in_page

pytestmark = needs_chromium
WAIT = 20_000


async def _rows(dashboard: Dashboard, sql: str) -> list[dict]:
    return await asyncio.to_thread(dashboard.process.query, sql)  # it runs its own event loop


async def _value(dashboard: Dashboard, sql: str) -> object:
    rows = await _rows(dashboard, sql)
    return next(iter(rows[0].values())) if rows else None


async def _failed_image_with_dead_letter(dashboard: Dashboard) -> tuple[int, int]:
    """A wolves photo whose detection failed for good: a copy of a seeded one (the same original)."""
    sha = uuid.uuid4().hex * 2
    image_id = await _value(
        dashboard,
        f"""INSERT INTO images (project_id, camera_id, stage, sha256, original_name, source, size_bytes, original_key,
                                received_at, attempts, last_error)
            SELECT project_id, camera_id, 'failed', decode('{sha}', 'hex'), 'FAILED_{sha[:6]}.JPG', source,
                   size_bytes, original_key, now(), 5, 'detector crashed'
            FROM images WHERE project_id = {dashboard.world.wolves} AND stage = 'done' ORDER BY id LIMIT 1
            RETURNING id""",
    )
    letter_id = await _value(
        dashboard,
        f"""INSERT INTO dead_letters (image_id, stage, error, attempts)
            VALUES ({image_id}, 'detect', 'detector crashed', 5) RETURNING id""",
    )
    return int(image_id), int(letter_id)  # type: ignore[call-overload]


async def test_a_project_admin_retries_a_dead_letter(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    image_id, letter_id = await _failed_image_with_dead_letter(dashboard)
    async with signed_in_page(dashboard, "admin@example.org", path="/admin?tab=problems") as page:
        retry = page.get_by_role("button", name=f"Retry dead letter {letter_id}")
        await expect(retry).to_be_visible(timeout=WAIT)
        await expect(page.get_by_text("detect failed after 5 attempts: detector crashed")).to_be_visible()
        await screenshot(page, "admin-problems")
        await retry.click()
        await expect(page.get_by_text(f"Image {image_id} is back in the pipeline")).to_be_visible(timeout=WAIT)
        await expect(retry).to_have_count(0, timeout=WAIT)

    [row] = await _rows(
        dashboard,
        f"""SELECT d.retried_at, i.stage::text AS stage, i.attempts FROM dead_letters d JOIN images i
            ON i.id = d.image_id WHERE d.id = {letter_id}""",
    )
    assert row["retried_at"] is not None
    assert row["stage"] != "failed"  # back to work (detection again, and on from there)
    audited = await _value(
        dashboard, f"SELECT actor FROM audit_log WHERE action = 'dead_letter.retry' AND target = 'image:{image_id}'"
    )
    assert audited == "admin@example.org"


async def test_a_device_token_is_shown_once(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    name = f"gateway-{uuid.uuid4().hex[:6]}"
    async with signed_in_page(dashboard, "admin@example.org", path="/admin?tab=access") as page:
        await page.get_by_label("New device token: name").fill(name)
        await page.get_by_role("button", name="Add device token").click()
        secret = page.get_by_label("Secret")
        await expect(secret).to_be_visible(timeout=WAIT)
        token = await secret.input_value()
        await screenshot(page, "admin-token-once")
        await page.get_by_role("button", name="Done").click()
        await expect(secret).to_have_count(0, timeout=WAIT)
        await expect(page.get_by_text(name)).to_be_visible(timeout=WAIT)
        assert token not in await page.content()  # gone from the page once the dialog closed
        await screenshot(page, "admin-access")

    stored = await _rows(
        dashboard,
        f"""SELECT encode(t.token_sha256, 'hex') AS digest, p.name AS project FROM device_tokens t
            JOIN projects p ON p.id = t.project_id WHERE t.name = '{name}'""",
    )
    assert stored == [{"digest": hashlib.sha256(token.encode()).hexdigest(), "project": "wolves"}]


async def test_a_viewer_gets_no_admin_controls(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    async with signed_in_page(dashboard, "viewer@example.org", path="/admin?tab=access") as page:
        await expect(page.get_by_text("only project and server admins")).to_be_visible(timeout=WAIT)
        for control in ("Add member", "Add device token", "Add upload account", "Create project"):
            await expect(page.get_by_role("button", name=control)).to_have_count(0)
        await expect(page.get_by_role("tab")).to_have_count(0)


async def test_an_admin_of_otters_sees_nothing_of_wolves(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    wolves_token = f"wolves-gw-{uuid.uuid4().hex[:6]}"
    added = await asyncio.to_thread(dashboard.process.cli, "token", "add", wolves_token, "--project", "wolves")
    assert added.returncode == 0, added.stderr
    async with signed_in_page(dashboard, "otter@example.org", path="/admin") as page:
        await expect(page.get_by_role("button", name="Add member")).to_be_visible(timeout=WAIT)
        await expect(page.get_by_role("listitem").get_by_text("otter@example.org")).to_be_visible()
        for email in ("admin@example.org", "viewer@example.org", "annotator@example.org", "root@example.org"):
            await expect(page.get_by_text(email)).to_have_count(0)
        await page.get_by_role("tab", name="Upload access").click()
        await expect(page.get_by_role("button", name="Add device token")).to_be_visible(timeout=WAIT)
        await expect(page.get_by_text(wolves_token)).to_have_count(0)
        await page.get_by_role("tab", name="Projects").click()
        await expect(page.locator(".q-card").get_by_text("otters", exact=True)).to_be_visible(timeout=WAIT)
        await expect(page.get_by_text("wolves", exact=True)).to_have_count(0)


async def test_screens_of_a_server_admin(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    for width in (1280, 390):
        async with signed_in_page(dashboard, "root@example.org", width=width, path="/admin") as page:
            await expect(page.get_by_role("button", name="Add member")).to_be_visible(timeout=WAIT)
            await expect(page.get_by_text("admin@example.org")).to_be_visible()
            await screenshot(page, "admin-users")
            for tab, ready, name in [
                ("Projects", "New project", "admin-projects"),
                ("Upload access", "Device tokens (HTTP uploads)", "admin-upload-access"),
                ("Problems", "Dead letters (failed work)", "admin-problems-all"),
                ("Models and storage", "Disk of the data directory", "admin-system"),
            ]:
                await page.get_by_role("tab", name=tab).click()
                await expect(page.get_by_text(ready)).to_be_visible(timeout=WAIT)
                await screenshot(page, name)


async def test_an_invited_member_signs_in_with_the_password_shown_once(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    email = f"ranger-{uuid.uuid4().hex[:6]}@example.org"
    async with signed_in_page(dashboard, "admin@example.org", path="/admin") as page:
        await page.get_by_label("E-mail").fill(email)
        await page.get_by_role("button", name="Add member").click()
        secret = page.get_by_label("Secret")
        await expect(secret).to_be_visible(timeout=WAIT)
        password = await secret.input_value()
        await page.get_by_role("button", name="Done").click()
        await expect(page.get_by_role("listitem").get_by_text(email)).to_be_visible(timeout=WAIT)

    [member] = await _rows(
        dashboard,
        f"""SELECT m.role::text AS role, p.name AS project FROM memberships m JOIN users u ON u.id = m.user_id
            JOIN projects p ON p.id = m.project_id WHERE u.email = '{email}'""",
    )
    assert member == {"role": "viewer", "project": "wolves"}
    assert await _value(dashboard, f"SELECT actor FROM audit_log WHERE action = 'user.add' AND target = '{email}'") == (
        "admin@example.org"
    )
    async with signed_in_page(dashboard, email, password=password) as page:
        await expect(page.get_by_text("Addax: Overview")).to_be_visible(timeout=WAIT)
        await expect(page.get_by_role("banner").get_by_text(email)).to_be_visible()
