"""/admin: only for admins, and an admin of one project sees only that project's people."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.ui.page_logic.conftest import FRAME_BUTTONS, buttons, elements, on_page, require_page, sign_in


@pytest.mark.parametrize("email", ["viewer@example.org", "annotator@example.org"])
async def test_who_administers_nothing_gets_not_found_and_no_admin_control(user: User, email: str) -> None:
    await sign_in(user, email)
    await user.open("/admin")
    await on_page(user, require_page("/admin"))
    await user.should_see("Not found")
    assert buttons(user) == FRAME_BUTTONS
    assert not elements(user, ui.input) and not elements(user, ui.tabs)
    for tab in ["Users", "Upload access", "Problems"]:
        await user.should_not_see(tab)


async def test_an_admin_url_without_a_session_asks_for_a_login_and_comes_back(user: User) -> None:
    require_page("/admin")
    await sign_in(user, "admin@example.org", path="/admin?tab=problems")
    await user.should_see("Problems")


async def test_a_project_admin_sees_the_members_of_their_project_only(user: User) -> None:
    await sign_in(user, "admin@example.org", path="/admin")
    await user.should_see("Members of your projects")
    for member in ["viewer@example.org", "annotator@example.org"]:
        await user.should_see(member)
    await user.should_not_see("otter@example.org")
    await user.should_not_see("root@example.org")


async def test_a_server_admin_sees_every_user(user: User) -> None:
    await sign_in(user, "root@example.org", path="/admin")
    for email in ["viewer@example.org", "otter@example.org", "admin@example.org"]:
        await user.should_see(email)
