"""/cameras/{id} in-process: what the camera's page says of it."""

from __future__ import annotations

from nicegui.testing import User

from tests.ui.page_logic.conftest import UiWorld, sign_in


async def test_a_camera_on_the_equator_has_a_position(user: User, ui_world: UiWorld, unique: str) -> None:
    camera_id = await ui_world.pool.fetchval(
        """INSERT INTO cameras (project_id, identity, identity_kind, name, status, last_location)
           VALUES ($1, $2, 'serial', $2, 'active', ST_SetSRID(ST_MakePoint(11.5, 0.0), 4326)::geography)
           RETURNING id""",
        ui_world.world.wolves,
        f"equator-{unique}",
    )
    await sign_in(user, "admin@example.org", path=f"/cameras/{camera_id}")
    await user.should_see("0.00000, 11.50000")
