"""The overview in Chromium: today's figures, cameras needing attention, and live updates without a reload."""

from __future__ import annotations

import asyncio

from tests.ui.conftest import PHONE, Dashboard, needs_chromium, screenshot, signed_in_page

pytestmark = needs_chromium


async def test_the_overview_shows_today_and_follows_new_photos_live(dashboard: Dashboard) -> None:
    from playwright.async_api import expect

    world = dashboard.world
    async with signed_in_page(dashboard, "admin@example.org") as page:
        await expect(page.get_by_text("Cameras needing attention")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("battery at 12 %")).to_be_visible()  # meadow-cam
        photos_today = page.locator(".addax-photos-today")
        before = int(await photos_today.inner_text())
        assert before == int(
            await dashboard.value(
                f"SELECT count(*) FROM images WHERE project_id = {world.wolves} AND taken_at >= "
                "date_trunc('day', now() AT TIME ZONE 'Europe/Berlin') AT TIME ZONE 'Europe/Berlin'"
            )
        )
        await screenshot(page, "overview")

        # A photo arrives through the real upload API while the page is open: the count follows, no reload.
        token = await asyncio.to_thread(dashboard.process.cli, "token", "add", "live-overview", "--project", "wolves")
        assert token.returncode == 0, token.stderr
        secret = token.stdout.strip().split()[-1]
        status = await asyncio.to_thread(_upload, dashboard, secret, photo_taken_now())
        assert status in (200, 201, 202), status
        await expect(photos_today).to_have_text(str(before + 1), timeout=30_000)

    async with signed_in_page(dashboard, "otter@example.org", width=PHONE[0]) as page:
        await expect(page.get_by_text("Cameras needing attention")).to_be_visible(timeout=20_000)
        await expect(page.get_by_text("meadow-cam")).to_have_count(0)  # not theirs
        await screenshot(page, "overview")


def photo_taken_now() -> bytes:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.ui.seed import picture

    return picture("roe deer", 999, taken=datetime.now(ZoneInfo("Europe/Berlin")))


def _upload(dashboard: Dashboard, token: str, photo: bytes) -> int:
    import urllib.request
    import uuid

    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="IMG_9999.JPG"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + photo
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{dashboard.process.http_port}/api/v1/upload",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-API-Token": token},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status
