"""A user of one project who opens another project's things by URL: "Not found" (the same as for what does not
exist) and nothing of that project on the page. To cover a new page, add its URLs to OTHERS_THINGS."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from nicegui.testing import User

from tests.ui.page_logic.conftest import FRAME_BUTTONS, UiWorld, buttons, on_page, require_page, sign_in
from tests.ui.seed import World

NOT_FOUND = "Not found"
OTTERS_ONLY = ["River bend", "river-cam", "Eurasian otter", "Lutra lutra", "otters"]
MISSING = 10**9

# (name, the otters' thing, a thing that does not exist) as URLs, for a user of the wolves only
OTHERS_THINGS: list[tuple[str, Callable[[World], str], str]] = [
    ("photo", lambda world: f"/images/{world.photo('river-cam', 0, 'Eurasian otter')}", f"/images/{MISSING}"),
    ("camera", lambda world: f"/cameras/{world.cameras['river-cam']}", f"/cameras/{MISSING}"),
    ("gallery of a project", lambda world: f"/gallery?project={world.otters}", f"/gallery?project={MISSING}"),
]


@pytest.mark.parametrize(("thing", "url_of", "missing"), OTHERS_THINGS, ids=[case[0] for case in OTHERS_THINGS])
@pytest.mark.parametrize("email", ["viewer@example.org", "admin@example.org"])
async def test_another_projects_thing_is_not_found_like_what_does_not_exist(
    user: User, ui_world: UiWorld, email: str, thing: str, url_of: Callable[[World], str], missing: str
) -> None:
    url = url_of(ui_world.world)
    route = require_page(url)
    await sign_in(user, email)

    await user.open(missing)
    await on_page(user, route)
    await user.should_see(NOT_FOUND)
    answer_for_missing = buttons(user)

    await user.open(url)
    await on_page(user, route)
    await user.should_see(NOT_FOUND)
    for text in OTTERS_ONLY:
        await user.should_not_see(text)
    assert buttons(user) == answer_for_missing == FRAME_BUTTONS


async def test_a_viewer_sees_a_photo_of_their_project_without_verification_controls(
    new_user: Callable[[], User], ui_world: UiWorld
) -> None:
    photo = f"/images/{ui_world.world.photo('gate-cam', 1, 'roe deer')}"
    route = require_page(photo)
    viewer, annotator = new_user(), new_user()
    await sign_in(viewer, "viewer@example.org", path=photo)
    await sign_in(annotator, "annotator@example.org", path=photo)
    for user in (viewer, annotator):
        await on_page(user, route)
        await user.should_see("roe deer")
        await user.should_not_see(NOT_FOUND)
    assert "Confirm" in buttons(annotator)
    assert not {"Confirm", "Save correction", "Add a missed box"} & set(buttons(viewer))
