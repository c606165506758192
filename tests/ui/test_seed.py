"""The seeded world is what the dashboard's tests expect: done photos with species, a summary per photo."""

from __future__ import annotations

from tests.ui.conftest import Dashboard


def test_the_seeded_world_has_summarised_photos(dashboard: Dashboard) -> None:
    world = dashboard.world
    rows = dashboard.process.query(
        f"SELECT stage::text, taxa, labels, verified FROM images WHERE project_id = {world.wolves} ORDER BY id"
    )
    assert len(rows) == 36 and {row["stage"] for row in rows} == {"done"}
    roe_deer = world.photo("gate-cam", 1, "roe deer")
    assert dashboard.process.value(f"SELECT taxa FROM images WHERE id = {roe_deer}") == ["Capreolus capreolus"]
    person = world.photo("gate-cam", 1, "person")
    assert dashboard.process.value(f"SELECT labels FROM images WHERE id = {person}") == ["person"]
