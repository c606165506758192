"""Page loads in headless Chromium (tests/ui/conftest.py's binary and flags): time to the first thumbnail and
to the full first screen, and many sessions left open.

A cold load is a fresh browser context with the signed-in cookies and an empty cache, as a colleague opening a
shared link; a warm one a new tab in a context that loaded the page before (scripts and thumbnails cached).
The clock is the page's own (performance.now(), from the start of the navigation). An init script stamps each
image that loads: "first" is the earliest stamped image the page's selector matches; "full" is the latest stamp
among the matching images inside the first screen, read once the network is idle (no request for 500 ms; the
page's websocket does not count) and every one of them has loaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP

STAMPS = """
window.__addaxLoaded = new Map();
document.addEventListener('load', (event) => {
  if (event.target instanceof HTMLImageElement) window.__addaxLoaded.set(event.target, performance.now());
}, true);
"""

# The matching images' load stamps: the earliest, and the latest of those in the first screen (null while one
# there is still loading).
READ = """(selector) => {
  const images = [...document.querySelectorAll(selector)];
  const stamps = images.map((image) => window.__addaxLoaded.get(image)).filter((stamp) => stamp !== undefined);
  if (!stamps.length) return null;
  const onScreen = images.filter((image) => {
    const box = image.getBoundingClientRect();
    return box.width > 0 && box.bottom > 0 && box.top < window.innerHeight;
  });
  if (onScreen.some((image) => !(image.complete && image.naturalWidth > 0))) return {first: Math.min(...stamps)};
  const full = Math.max(...onScreen.map((image) => window.__addaxLoaded.get(image) ?? 0));
  const nav = performance.getEntriesByType('navigation')[0];
  return {first: Math.min(...stamps), full, shown: onScreen.length, html: nav.responseEnd,
          dom: nav.domContentLoadedEventEnd};
}"""

FIRST = """(selector) => [...document.querySelectorAll(selector)].some(
  (image) => image.complete && image.naturalWidth > 0 && window.__addaxLoaded.has(image))"""


@dataclass(frozen=True, slots=True)
class Load:
    html_ms: float  # the page's HTML received
    dom_ms: float  # its scripts ran (DOMContentLoaded)
    first_ms: float
    full_ms: float
    on_screen: int


class Browser:
    """One headless Chromium, signed in once as ``email``; :meth:`load` opens a page in a fresh context."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.state: Any = None  # playwright's StorageState

    async def __aenter__(self) -> Browser:
        from playwright.async_api import async_playwright

        self._playwright = await async_playwright().start()
        self.chromium = await self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.chromium.close()
        await self._playwright.stop()

    async def sign_in(self, email: str, password: str) -> None:
        from playwright.async_api import expect

        context = await self.chromium.new_context(viewport={"width": DESKTOP[0], "height": DESKTOP[1]})
        try:
            page = await context.new_page()
            await page.goto(self.base_url + "/")
            await expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=30_000)
            await page.get_by_label("E-mail").fill(email)
            await page.get_by_label("Password").fill(password)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_url(lambda url: "/login" not in url, timeout=30_000)
            self.state = await context.storage_state()
        finally:
            await context.close()

    async def context(self) -> Any:
        context = await self.chromium.new_context(
            viewport={"width": DESKTOP[0], "height": DESKTOP[1]}, storage_state=self.state
        )
        await context.add_init_script(STAMPS)
        return context

    async def open(self, path: str, selector: str, context: Any = None) -> Any:
        """A page on ``path`` (in a new context unless given one), left open once an image matching ``selector``
        has loaded."""
        given = context is not None
        context = context or await self.context()
        page = await context.new_page()
        await page.goto(self.base_url + path, wait_until="commit")
        try:
            await page.wait_for_function(FIRST, arg=selector, timeout=30_000, polling="raf")
        except Exception:
            await (page if given else context).close()
            raise RuntimeError(f"no image {selector!r} loaded on {path} (at {page.url})") from None
        return context, page

    async def load(self, path: str, selector: str, warm: Any = None) -> Load:
        """One load in a fresh context, or in ``warm``: a context kept between loads, whose cache has the page's
        scripts and the thumbnails already (the media route lets the browser keep them for an hour)."""
        context, page = await self.open(path, selector, warm)
        try:
            await page.wait_for_load_state("networkidle", timeout=60_000)
            deadline = time.monotonic() + 60
            while (seen := await page.evaluate(READ, selector)) is None or "full" not in seen:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the first screen of {path} did not finish loading: {seen}")
                await page.wait_for_timeout(50)
            return Load(seen["html"], seen["dom"], seen["first"], seen["full"], seen["shown"])
        finally:
            await (page if warm else context).close()
