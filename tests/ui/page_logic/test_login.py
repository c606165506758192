"""/login: a page without a session sends there, wrong passwords are refused, a right one goes back to the page
asked for (and only to a page of this site)."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.page_logic.conftest import on_page, page_path, require_page, sign_in
from tests.ui.seed import PASSWORD


def fill_in(user: User, email: str, password: str) -> None:
    user.find("E-mail").type(email)
    user.find("Password").type(password)
    user.find("Sign in").click()


async def test_the_overview_without_a_session_sends_to_login(user: User) -> None:
    await user.open("/")
    await on_page(user, "/login")
    await user.should_see("Sign in")
    await user.should_not_see("Sign out")


async def test_a_page_without_a_session_sends_to_login_and_back_afterwards(user: User) -> None:
    require_page("/gallery")
    await user.open("/gallery")
    await on_page(user, "/login")
    fill_in(user, "viewer@example.org", PASSWORD)
    await on_page(user, "/gallery")


async def test_a_wrong_password_is_refused_and_stays_on_login(user: User) -> None:
    await user.open("/login?next=/gallery")
    fill_in(user, "viewer@example.org", "not the password")
    await user.should_see("wrong e-mail or password", retries=100)
    await user.should_not_see("Sign out")
    assert page_path(user) == "/login"


async def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(user: User) -> None:
    await user.open("/login")
    fill_in(user, "nobody@example.org", PASSWORD)
    await user.should_see("wrong e-mail or password", retries=100)
    assert page_path(user) == "/login"


async def test_the_right_password_lands_on_the_page_asked_for(user: User) -> None:
    gallery = require_page("/gallery")
    await user.open("/login?next=/gallery")
    fill_in(user, "viewer@example.org", PASSWORD)
    await on_page(user, gallery)
    await user.should_see("viewer@example.org")


async def test_after_signing_in_only_pages_of_this_site_are_next(user: User) -> None:
    await user.open("/login?next=//elsewhere.example/phish")
    fill_in(user, "viewer@example.org", PASSWORD)
    await on_page(user, "/")
    await user.should_see("Sign out")


async def test_a_signed_in_user_on_login_goes_on_to_the_page_asked_for(user: User) -> None:
    await sign_in(user, "viewer@example.org")
    await user.open("/login")
    await on_page(user, "/")
    await user.should_see("viewer@example.org")


async def test_signing_out_ends_the_session(user: User) -> None:
    await sign_in(user, "viewer@example.org")
    user.find("Sign out").click()
    await on_page(user, "/login")
    await user.open("/")
    await on_page(user, "/login")
