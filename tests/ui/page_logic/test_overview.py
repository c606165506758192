"""/ (the overview): today's figures of the viewer's own projects, never another project's."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pytest
from nicegui import ui
from nicegui.testing import User

from tests.ui.page_logic.conftest import UiWorld, elements, links, sign_in

# what only the otters' project has (its site, camera and species): never on a page of the wolves' users
OTTERS_ONLY = ["River bend", "river-cam", "Eurasian otter", "Lutra lutra"]
WOLVES_ONLY = ["North gate", "gate-cam", "meadow-cam", "Capreolus capreolus", "roe deer"]


async def todays(ui_world: UiWorld, project: str) -> dict[str, object]:
    """Today's figures of one project, counted here from the images (since midnight in the project's zone)."""
    since = """(SELECT date_trunc('day', now() AT TIME ZONE p.timezone) AT TIME ZONE p.timezone
                FROM projects p WHERE p.name = $1)"""
    today = f"""SELECT i.* FROM images i JOIN projects p ON p.id = i.project_id
                WHERE p.name = $1 AND i.kind <> 'report' AND i.taken_at >= {since}"""
    async with ui_world.pool.acquire() as connection:
        photos = await connection.fetchval(f"SELECT count(*) FROM ({today}) t", project)
        labels = await connection.fetch(
            f"SELECT label, count(*) AS n FROM ({today}) t, unnest(t.labels) AS label GROUP BY label", project
        )
        taxa = await connection.fetch(
            f"""SELECT taxon, count(*) AS n FROM ({today}) t, unnest(t.taxa) AS taxon
                GROUP BY taxon ORDER BY n DESC, taxon LIMIT 5""",
            project,
        )
    return {
        "photos": photos,
        "labels": {row["label"]: row["n"] for row in labels},
        "species": [row["taxon"] for row in taxa],
    }


def species_links(user: User) -> list[str]:
    """The taxa the overview's "Top species" link to (/gallery?species=...), in order."""
    targets = [href for href in links(user) if href.startswith("/gallery?species=")]
    return [parse_qs(urlparse(href).query)["species"][0] for href in targets]


@pytest.mark.parametrize(
    ("email", "project", "others"),
    [("viewer@example.org", "wolves", OTTERS_ONLY), ("otter@example.org", "otters", WOLVES_ONLY)],
)
async def test_the_overview_shows_todays_figures_of_the_users_projects_only(
    user: User, ui_world: UiWorld, email: str, project: str, others: list[str]
) -> None:
    expected = await todays(ui_world, project)
    await sign_in(user, email)
    await user.should_see("photos taken today")
    shown = [label.text for label in elements(user, ui.label) if "addax-photos-today" in label.classes]
    assert shown == [str(expected["photos"])]
    for label, count in expected["labels"].items():  # type: ignore[attr-defined]
        await user.should_see(f"{label}: {count}")
    assert species_links(user) == expected["species"]
    for text in others:
        await user.should_not_see(text)


@pytest.mark.parametrize(
    ("email", "cameras"), [("viewer@example.org", {"gate-cam", "meadow-cam"}), ("otter@example.org", {"river-cam"})]
)
async def test_cameras_needing_attention_are_of_the_users_projects(
    user: User, ui_world: UiWorld, email: str, cameras: set[str]
) -> None:
    await sign_in(user, email)
    await user.should_see("Cameras needing attention")
    linked = {int(href.rsplit("/", 1)[1]) for href in links(user) if href.startswith("/cameras/")}
    assert linked <= {ui_world.world.cameras[name] for name in cameras}


async def test_the_actor_table_is_for_server_admins(new_user: Callable[[], User]) -> None:
    root, admin = new_user(), new_user()
    await sign_in(root, "root@example.org")
    await sign_in(admin, "admin@example.org")
    assert elements(root, ui.table)
    assert not elements(admin, ui.table)
