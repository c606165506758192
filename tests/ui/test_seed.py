"""The seeded world is what the dashboard's tests expect: done photos with species, a summary per photo."""

from __future__ import annotations

from tests.ui.conftest import Dashboard


def test_the_seeded_world_has_summarised_photos(dashboard: Dashboard) -> None:
    world = dashboard.world
    seeded = sorted(
        photo for (camera, _, _), photos in world.bursts.items() if camera != "river-cam" for photo in photos
    )
    rows = dashboard.process.query(  # other tests add photos of their own: only the seeded ones
        f"SELECT stage::text, project_id FROM images WHERE id IN ({', '.join(map(str, seeded))})"
    )
    assert len(rows) == 36 and {(row["stage"], row["project_id"]) for row in rows} == {("done", world.wolves)}
    roe_deer = world.photo("gate-cam", 1, "roe deer")
    assert dashboard.process.value(f"SELECT taxa FROM images WHERE id = {roe_deer}") == ["Capreolus capreolus"]
    person = world.photo("gate-cam", 1, "person")
    assert dashboard.process.value(f"SELECT labels FROM images WHERE id = {person}") == ["person"]
