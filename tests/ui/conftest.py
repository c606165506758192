"""One running ``addax run`` for the dashboard's tests, seeded with a small world, and signed-in browser pages.

Screenshots of every page go to ``test-artifacts/ui`` (``ADDAX_TEST_ARTIFACTS`` to move it): desktop width and
a phone's 390 px.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from addax.embedded.common import socket_directory
from addax.embedded.postgres import dsn_for
from addax.store.object_fs import FilesystemObjectStore
from tests.conftest import world_readable_tempdir
from tests.service import AddaxProcess, environment
from tests.ui.seed import PASSWORD, World, seed_world

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# A closed network: keep Chromium from reaching out (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP, PHONE = (1280, 860), (390, 844)
ARTIFACTS = Path(os.environ.get("ADDAX_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts" / "ui"))

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium (make test installs it)"
)


@dataclass
class Dashboard:
    process: AddaxProcess
    world: World

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.process.ui_port}{path}"

    async def query(self, sql: str) -> list[dict]:
        """Rows from the service's database, from an async test (AddaxProcess.query runs its own loop)."""
        return await asyncio.to_thread(self.process.query, sql)

    async def value(self, sql: str) -> object:
        return await asyncio.to_thread(self.process.value, sql)

    @property
    def dsn(self) -> str:
        return dsn_for(socket_directory(self.process.home / "data"), 5432)


@contextmanager
def seeded_dashboard(prefix: str, settings: dict[str, str] | None = None) -> Iterator[Dashboard]:
    """``addax run`` (with ``settings``: ADDAX_* variables) in a fresh home, seeded with the world."""
    home = world_readable_tempdir(prefix)
    process = AddaxProcess(home=home, env=environment())
    process.env.update(settings or {})
    process.start()
    try:
        process.wait_healthy()
        objects = FilesystemObjectStore(home / "data" / "objects")
        world = asyncio.run(seed_world(dsn_for(socket_directory(home / "data"), 5432), objects))
        yield Dashboard(process=process, world=world)
    finally:
        process.stop()
        subprocess.run(["rm", "-rf", str(home)], check=False)


@pytest.fixture(scope="session")
def dashboard() -> Iterator[Dashboard]:
    with seeded_dashboard("addax-dashboard-") as seeded:
        yield seeded


@asynccontextmanager
async def signed_in_page(
    dashboard: Dashboard, email: str, *, width: int = DESKTOP[0], path: str = "/", password: str = PASSWORD
) -> AsyncIterator:
    """A Chromium page signed in as ``email`` (the seeded password), left on ``path``."""
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            height = PHONE[1] if width <= PHONE[0] else DESKTOP[1]
            page = await browser.new_page(viewport={"width": width, "height": height})
            # Generous waits: on a busy 2-core CI machine a page can take seconds; a wait ends as soon as it holds.
            page.set_default_timeout(30_000)
            expect.set_options(timeout=20_000)
            await page.goto(dashboard.url(path))
            await expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=20_000)
            await page.get_by_label("E-mail").fill(email)
            await page.get_by_label("Password").fill(password)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(lambda url: "/login" not in url, timeout=20_000)
            yield page
        finally:
            await browser.close()


async def screenshot(page, name: str) -> Path:
    """Save the whole page as test-artifacts/ui/<name>-desktop.png or -phone.png (by the page's width)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else DESKTOP[0]
    path = ARTIFACTS / f"{name}-{'phone' if width <= PHONE[0] else 'desktop'}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
