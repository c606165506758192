"""Who sees what: the menu by role, sessions that end when the user is disabled, photos only of one's projects."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

import pytest
from nicegui.testing import User

from addax.store import accounts
from addax.ui.media import media_url
from tests.ui.page_logic.conftest import UiWorld, menu, on_page, sign_in

EVERYONE = ["/", "/gallery", "/map", "/cameras", "/insights", "/alerts"]


@pytest.mark.parametrize("email", ["viewer@example.org", "annotator@example.org"])
async def test_the_menu_has_no_admin_entry_for_who_administers_nothing(user: User, email: str) -> None:
    await sign_in(user, email)
    assert menu(user) == EVERYONE
    await user.should_not_see("Admin")


@pytest.mark.parametrize("email", ["admin@example.org", "otter@example.org", "root@example.org"])
async def test_the_menu_has_the_admin_entry_for_admins(user: User, email: str) -> None:
    await sign_in(user, email)
    assert menu(user) == [*EVERYONE, "/admin"]
    await user.should_see("Admin")


async def test_a_user_disabled_meanwhile_is_sent_to_login_from_the_open_page(
    user: User, ui_world: UiWorld, account: Callable[..., Awaitable[str]]
) -> None:
    email = await account(accounts.Role.VIEWER)
    await sign_in(user, email)
    await accounts.disable_user(ui_world.pool, await accounts.user_id(ui_world.pool, email), by="test")
    await on_page(user, "/login")  # the page's own session check, no reload
    await user.open("/")
    await on_page(user, "/login")


async def test_a_new_password_ends_the_sessions_of_the_old_one(
    user: User, ui_world: UiWorld, account: Callable[..., Awaitable[str]]
) -> None:
    email = await account(accounts.Role.VIEWER)
    await sign_in(user, email)
    user_id = await accounts.user_id(ui_world.pool, email)
    await accounts.set_user_password(ui_world.pool, user_id, "another hash", by="test")
    await user.open("/")
    await on_page(user, "/login")


async def test_a_new_membership_shows_on_the_next_page_load(
    user: User, ui_world: UiWorld, account: Callable[..., Awaitable[str]]
) -> None:
    email = await account(accounts.Role.VIEWER)
    await sign_in(user, email)
    assert "/admin" not in menu(user)
    await ui_world.pool.execute(
        "UPDATE memberships SET role = 'project-admin' WHERE user_id = $1", await accounts.user_id(ui_world.pool, email)
    )
    await user.open("/")
    await on_page(user, "/")
    assert "/admin" in menu(user)


async def test_photos_are_served_only_to_who_may_see_their_project(user: User, ui_world: UiWorld) -> None:
    world = ui_world.world
    roe_deer, otter = world.photo("gate-cam", 1, "roe deer"), world.photo("river-cam", 0, "Eurasian otter")
    signed_out = await user.http_client.get(media_url(roe_deer, "thumbnail"))
    assert signed_out.status_code == 401

    await sign_in(user, "viewer@example.org")
    own = await user.http_client.get(media_url(roe_deer, "thumbnail"))
    assert own.status_code == 200 and own.headers["content-type"] == "image/jpeg" and own.content[:2] == b"\xff\xd8"
    others = await user.http_client.get(media_url(otter, "thumbnail"))
    missing = await user.http_client.get(media_url(10**9, "thumbnail"))
    assert others.status_code == missing.status_code == 404 and others.text == missing.text


async def test_the_original_of_a_photo_with_people_is_only_for_admins(
    new_user: Callable[[], User], ui_world: UiWorld
) -> None:
    person = ui_world.world.photo("gate-cam", 1, "person")
    viewer, admin = new_user(), new_user()
    await sign_in(viewer, "viewer@example.org")
    await sign_in(admin, "admin@example.org")
    assert (await viewer.http_client.get(media_url(person, "original"))).status_code == 403
    assert (await viewer.http_client.get(media_url(person, "annotated"))).status_code == 200
    original = await admin.http_client.get(media_url(person, "original"))
    assert original.status_code == 200
    key = await ui_world.pool.fetchval("SELECT original_key FROM images WHERE id = $1", person)
    stored = await ui_world.services.objects.read(key)
    # streamed in chunks: every byte, no more (SHA-256 served = SHA-256 stored), with a truthful length
    assert hashlib.sha256(original.content).hexdigest() == hashlib.sha256(stored).hexdigest()
    assert int(original.headers["content-length"]) == len(stored)
    audited = await ui_world.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'image.unblur' AND target = $1", f"image:{person}"
    )
    assert audited >= 1
