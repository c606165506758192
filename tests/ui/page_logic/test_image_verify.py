"""The image page's verification panel saves against the photo as it is now, and keeps a whole-photo answer."""

from __future__ import annotations

from nicegui.testing import User

from addax.domain.verification import parse_verification
from addax.store import accounts, detections, verifications
from tests.store.test_verifications import roe_deer_photo
from tests.ui.page_logic.conftest import UiWorld, sign_in
from tests.waiting import eventually


async def stored_boxes(ui_world: UiWorld, image_id: int) -> list[dict] | None:
    found = await verifications.get(ui_world.pool, image_id)
    return None if found is None else list(found["boxes"])


async def test_new_model_boxes_since_the_page_opened_are_shown_not_saved_onto(
    user: User, ui_world: UiWorld, unique: str
) -> None:
    image_id = await roe_deer_photo(ui_world.pool, ui_world.world.wolves, f"redetected-{unique}.jpg")
    await sign_in(user, "annotator@example.org", path=f"/images/{image_id}")
    await user.should_see("Confirm")
    async with ui_world.pool.acquire() as connection, connection.transaction():
        await detections.replace_boxes(
            connection, image_id, [detections.NewBox("vehicle", 0.8, (0.5, 0.5, 0.2, 0.2))], "md-new"
        )

    user.find("Confirm").click()
    await user.should_see("changed meanwhile")
    assert await stored_boxes(ui_world, image_id) is None
    user.find("Confirm").click()  # now on the boxes the page shows
    await eventually(lambda: stored_boxes(ui_world, image_id), what="the verification")
    boxes = await stored_boxes(ui_world, image_id)
    assert boxes is not None and [(box["detection"], box["label"]) for box in boxes] == [(0, "vehicle")]


async def test_a_whole_photo_answer_saved_again_stays_the_whole_photo(
    user: User, ui_world: UiWorld, unique: str
) -> None:
    image_id = await roe_deer_photo(ui_world.pool, ui_world.world.wolves, f"whole-{unique}.jpg")
    subject = await verifications.subject(ui_world.pool, image_id)
    assert subject is not None
    someone = await accounts.find_user(ui_world.pool, "annotator@example.org")
    assert someone is not None
    flat = parse_verification({"taxon": "Cervus elaphus", "common_name": "red deer"}, subject.boxes)
    await verifications.save(ui_world.pool, image_id, flat, by=someone)
    before = await verifications.get(ui_world.pool, image_id)
    assert before is not None

    await sign_in(user, "annotator@example.org", path=f"/images/{image_id}")
    await user.should_see("Save correction")
    user.find("Save correction").click()

    async def saved_again() -> bool:
        found = await verifications.get(ui_world.pool, image_id)
        return found is not None and found["verified_at"] > before["verified_at"]

    await eventually(saved_again, what="the verification saved again")
    boxes = await stored_boxes(ui_world, image_id)
    assert boxes is not None and [(box["detection"], box["bbox"], box["taxon"]) for box in boxes] == [
        (None, None, "Cervus elaphus")
    ]
