"""The dashboard's pages in-process, driven by NiceGUI's simulated ``User`` (no browser): page logic only.

``build_ui`` registers every page on NiceGUI's one global app, so it runs once per test session, on the
session's event loop (the loop of the ``pool`` and of every test here), over a database of its own seeded
with ``tests/ui/seed.py``'s world. Each test gets a fresh ``User``: its own cookie jar, so its own session.

    async def test_something(user: User) -> None:
        await sign_in(user, "viewer@example.org")
        await user.open("/gallery")
        await user.should_see("roe deer")

A test that changes things makes its own rows (the world is shared by every test here).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from nicegui import Client, background_tasks, ui
from nicegui.functions.download import download
from nicegui.functions.navigate import Navigate
from nicegui.functions.notify import notify
from nicegui.javascript_request import JavaScriptRequest
from nicegui.testing import User

from addax.domain.secrets import hash_password
from addax.runtime.broadcast import Broadcast
from addax.store import accounts
from addax.store.database import create_pool
from addax.store.logins import LoginGuard, LoginPolicy
from addax.store.object_fs import FilesystemObjectStore
from addax.ui import UiServices, build_ui
from tests.conftest import Servers, _create_database, world_readable_tempdir
from tests.ui.seed import PASSWORD, World, seed_world
from tests.waiting import eventually

# Quick answers to wrong passwords, and no lockout from one test's wrong guesses.
POLICY = LoginPolicy(max_failures=1000, window_s=300, failure_delay_s=0.01)
DESKTOP_WIDTH = 1280


@dataclass(frozen=True)
class UiWorld:
    services: UiServices
    world: World
    dsn: str

    @property
    def pool(self) -> asyncpg.Pool:
        return self.services.pool


@pytest.fixture(scope="session")
async def ui_world(servers: Servers, migrated_template: str) -> AsyncIterator[UiWorld]:
    """A database of its own seeded with the world, and the services the pages get in ``addax run``."""
    dsn = servers.dsn(await _create_database(servers, migrated_template))
    data_dir = world_readable_tempdir("addax-page-logic-")
    objects = FilesystemObjectStore(data_dir / "objects")
    world = await seed_world(dsn, objects)
    pool = await create_pool(dsn, size=10)
    try:
        services = UiServices(
            logins=LoginGuard(pool=pool, policy=POLICY),
            health=lambda: [],
            storage_dir=data_dir / "ui",
            storage_secret="page logic tests",
            pool=pool,
            objects=objects,
            events=Broadcast(),
            session_check_s=0.3,  # an open page notices a disabled user quickly
        )
        yield UiWorld(services=services, world=world, dsn=dsn)
    finally:
        await pool.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
async def ui_app(ui_world: UiWorld) -> AsyncIterator[FastAPI]:
    """The dashboard's ASGI app as ``addax run`` serves it, started (NiceGUI's startup) and stopped once."""
    app = build_ui(ui_world.services)
    async with app.router.lifespan_context(app):
        yield app


class Visitor(User):
    """A simulated user that opens one page at a time and leaves the page it had open when it opens the next one,
    as a browser does. (A page left open would keep its timers running against the database until the end of the
    session; two opens interleaved, say the login's redirect and the test's next page, would delete a page before
    its handshake.)"""

    def __init__(self, client: httpx.AsyncClient, *, width: int = DESKTOP_WIDTH) -> None:
        super().__init__(client)
        self.opening = 0  # opens asked for and not finished (a navigation runs in the background)
        self._one_at_a_time = asyncio.Lock()
        # what the pages ask the browser (no browser here: unanswered, a call times out and is logged)
        self.javascript_rules[re.compile(r"^window\.innerWidth < (\d+)$")] = lambda match: width < int(match[1])

    async def open(self, path: str, *, clear_forward_history: bool = True) -> Client:
        self.opening += 1
        try:
            async with self._one_at_a_time:
                left = self.client
                opened = await super().open(path, clear_forward_history=clear_forward_history)
                if left is not None and left is not opened and left.id in Client.instances:
                    await close(left)
                return opened
        finally:
            self.opening -= 1


async def close(page: Client) -> None:
    """Delete a page once nothing of it is in flight, as a browser tab closed between two of its updates.

    A JavaScript call cut off (the drawer asks on connect whether it is open) would time out a second later and a
    timer's callback cut off mid-refresh would fail: either would be logged in whichever test runs then."""
    await eventually(lambda: idle(page), timeout=10, what="the page to be idle")
    if page.id in Client.instances:
        page.delete()  # no await since idle(): nothing started meanwhile


def idle(page: Client) -> bool:
    # private attributes: NiceGUI has no public view of calls in flight
    timers = [element for element in page.elements.values() if isinstance(element, ui.timer)]
    return (
        not pages_building()
        and not page.outbox.messages
        and not JavaScriptRequest._instances
        and all(timer._current_invocation is None or timer._current_invocation.done() for timer in timers)
    )


@pytest.fixture
async def new_user(ui_app: FastAPI, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Callable[..., User]]:
    """Makes simulated users (each its own browser, cookies and session) for a test that needs several.

    The test fails when the dashboard logged an error meanwhile (as NiceGUI's own ``user`` fixture does)."""
    clients: list[httpx.AsyncClient] = []
    before = set(Client.instances)

    def make(*, width: int = DESKTOP_WIDTH) -> User:
        """``width``: the window's, as the pages ask the browser for it (390: a phone)."""
        clients.append(httpx.AsyncClient(transport=httpx.ASGITransport(ui_app), base_url="http://test"))
        return Visitor(clients[-1], width=width)

    yield make
    for page in [client for id_, client in list(Client.instances.items()) if id_ not in before]:
        await close(page)  # the test's browsers are closed
    for client in clients:
        await client.aclose()
    # a User swaps its own navigate/notify/download into `ui`; give the real ones back
    ui.navigate, ui.notify, ui.download = Navigate(), notify, download
    errors = [record.getMessage() for record in caplog.get_records("call") if record.levelname == "ERROR"]
    if errors:
        pytest.fail(f"the dashboard logged errors: {errors}", pytrace=False)


@pytest.fixture
def user(new_user: Callable[..., User]) -> User:
    """One simulated user (a desktop browser)."""
    return new_user()


@pytest.fixture
def account(ui_world: UiWorld, unique: str) -> Callable[..., Awaitable[str]]:
    """Makes a user of its own for a test that changes them: ``email = await account(Role.VIEWER)``, of wolves
    (``project=`` another), with the seeded password."""

    async def make(role: accounts.Role, *, project: str | None = "wolves") -> str:
        email = f"{role.value}-{unique}-{next(_accounts)}@example.org"
        password_hash = await asyncio.to_thread(hash_password, PASSWORD)
        project = None if role is accounts.Role.SERVER_ADMIN else project
        await accounts.add_user(ui_world.pool, email, password_hash, role=role, project=project, by="test")
        return email

    return make


_accounts = itertools.count()
T = TypeVar("T", bound=ui.element)


def elements(user: User, kind: type[T]) -> list[T]:
    """The open page's elements of a kind, in page order (``user.find`` gives a set, and fails on none)."""
    return [element for element in user.current_layout.descendants() if isinstance(element, kind)]


def links(user: User) -> list[str]:
    """The targets of the open page's links, in page order, the menu's included."""
    return [link.props["href"] for link in elements(user, ui.link)]


def menu(user: User) -> list[str]:
    """The targets of the menu drawer's links, in order (the drawer exists on every signed-in page)."""
    drawers = elements(user, ui.left_drawer)
    assert len(drawers) == 1, "no menu drawer on this page"
    return [link.props["href"] for link in drawers[0].descendants() if isinstance(link, ui.link)]


def buttons(user: User) -> list[str]:
    """The labels (or aria-labels) of every button on the open page, the frame's included."""
    return [str(button.props.get("aria-label") or button.text) for button in elements(user, ui.button)]


FRAME_BUTTONS = ["Menu", "Sign out"]


def page_path(user: User) -> str | None:
    """The route of the page the user has open ("/login", "/images/{image_id}", ...), None before the first."""
    return user.client.page.path if user.client is not None else None


def pages_building() -> bool:
    """Is a page function still running? A page answers its GET as soon as something on it waits for the
    browser (the frame's session timer does), and goes on building after the handshake."""
    return any(
        task.get_name().startswith("wait for result of page") and not task.done()
        for task in background_tasks.running_tasks
    )


async def on_page(user: User, path: str, *, timeout: float = 20.0) -> None:
    """Wait until the user's open page is the one at ``path`` (a route: "/images/{image_id}"), built."""
    await eventually(
        lambda: page_path(user) == path and not getattr(user, "opening", 0) and not pages_building(),
        timeout=timeout,
        what=f"{path} (open: {page_path(user)})",
    )


async def sign_in(user: User, email: str, *, password: str = PASSWORD, path: str = "/") -> None:
    """Open ``path``, sign in on the /login page it leads to, and wait until ``path``'s page is open."""
    await user.open(path)
    await on_page(user, "/login")
    user.find("E-mail").type(email)
    user.find("Password").type(password)
    user.find("Sign in").click()
    await on_page(user, require_page(path))


def route_of(path: str) -> str | None:
    """The route a plain path belongs to, as NiceGUI registered it (/images/12 -> /images/{image_id})."""
    plain = path.split("?")[0]
    for route in Client.page_routes.values():
        if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", route), plain):
            return route
    return None


def require_page(path: str) -> str:
    """Skip the test while the page at ``path`` is still a placeholder that registers nothing; its route if not.

    Needs ``ui_app`` (the pages registered) before it is called: use it inside a test that takes ``user``."""
    route = route_of(path)
    if route is None:
        pytest.skip(f"no page at {path} yet")
    return route
