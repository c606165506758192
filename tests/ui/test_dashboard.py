"""The dashboard in headless Chromium: log in with the first admin, see every actor's health; sessions end."""

from __future__ import annotations

import asyncio
import http.client
import subprocess
from collections.abc import Iterator

import pytest

from tests.conftest import world_readable_tempdir
from tests.service import AddaxProcess, environment
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS, needs_chromium

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def addax() -> Iterator[AddaxProcess]:
    home = world_readable_tempdir("addax-ui-")
    process = AddaxProcess(home=home, env=environment())
    process.start()
    process.wait_healthy()
    yield process
    process.stop()
    subprocess.run(["rm", "-rf", str(home)], check=False)


async def test_login_and_status_page(addax: AddaxProcess) -> None:
    from playwright.async_api import async_playwright, expect

    password = addax.first_admin_password()
    assert password
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{addax.ui_port}/")
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=20_000)  # redirected to /login

        await page.get_by_label("E-mail").fill("admin@localhost")
        await page.get_by_label("Password").fill("not the password")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_text("wrong e-mail or password")).to_be_visible(timeout=20_000)

        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_text("Addax: Overview")).to_be_visible(timeout=20_000)
        for actor in ("postgres", "database", "ingestor", "ftp", "http", "ui"):
            await expect(page.get_by_role("cell", name=actor, exact=True)).to_be_visible()
        await page.screenshot(path=str(addax.home / "status.png"))
        await browser.close()


def test_pages_that_need_a_login_redirect_a_plain_request(addax: AddaxProcess) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", addax.ui_port, timeout=10)  # follows no redirects
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        response.read()
        assert response.status in (302, 303, 307) and response.getheader("Location") == "/login"
        connection.request("GET", "/login")
        login = connection.getresponse()
        assert login.status == 200 and "<html" in login.read().decode().lower()
    finally:
        connection.close()


async def sign_in(page, addax: AddaxProcess, email: str, password: str) -> None:
    await page.goto(f"http://127.0.0.1:{addax.ui_port}/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()


async def cli(addax: AddaxProcess, *args: str, stdin: str = "") -> None:
    result = await asyncio.to_thread(addax.cli, *args, stdin=stdin)
    assert result.returncode == 0, result.stderr


async def test_an_open_page_is_signed_out_when_the_user_is_disabled_or_gets_a_new_password(
    addax: AddaxProcess,
) -> None:
    from playwright.async_api import async_playwright, expect

    email = "ranger@example.org"
    await cli(addax, "user", "add", email, "--role", "server-admin", "--password-stdin", stdin="first one\n")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = await browser.new_page()
        status, sign_in_button = page.get_by_text("Addax: Overview"), page.get_by_role("button", name="Sign in")
        await sign_in(page, addax, email, "first one")
        await expect(status).to_be_visible(timeout=20_000)

        await cli(addax, "user", "disable", email)
        await expect(sign_in_button).to_be_visible(timeout=20_000)  # the page's timer checks every 5 s
        assert page.url.endswith("/login")
        await sign_in(page, addax, email, "first one")
        await expect(page.get_by_text("wrong e-mail or password")).to_be_visible(timeout=20_000)
        await page.goto(f"http://127.0.0.1:{addax.ui_port}/")
        await expect(sign_in_button).to_be_visible(timeout=20_000)

        await cli(addax, "user", "enable", email)
        await sign_in(page, addax, email, "first one")
        await expect(status).to_be_visible(timeout=20_000)
        await cli(addax, "user", "password", email, "--password-stdin", stdin="second one\n")
        await expect(sign_in_button).to_be_visible(timeout=20_000)
        await sign_in(page, addax, email, "second one")
        await expect(status).to_be_visible(timeout=20_000)
        await browser.close()
