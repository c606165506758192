"""/ (the overview): today's figures of the viewer's own projects, never another project's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs, urlparse

import asyncpg
import pytest
from nicegui import ui
from nicegui.testing import User

from addax.store import accounts, gallery
from tests.ui.page_logic.conftest import UiWorld, elements, links, sign_in
from tests.waiting import eventually

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


async def test_live_refreshes_reuse_the_species_names_and_links_are_encoded(
    user: User, ui_world: UiWorld, account: Callable[..., Awaitable[str]], unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"odd-{unique}"
    project_id = await accounts.add_project(ui_world.pool, name, by="test")
    email = await account(accounts.Role.VIEWER, project=name)
    odd = "Mustela sp. & co #1"

    async def photo_now(number: int) -> None:
        await ui_world.pool.execute(
            """INSERT INTO images (project_id, sha256, original_name, source, size_bytes, original_key, stage,
                                   taken_at, labels, taxa)
               VALUES ($1, sha256(convert_to($2, 'UTF8')), $2, 'http', 1, $2, 'done', now(), '{animal}',
                       ARRAY[$3])""",
            project_id,
            f"{name}-{number}.jpg",
            odd,
        )

    calls = 0
    real = gallery.species_names

    async def counted(db: asyncpg.Pool, projects: list[int]) -> dict[str, str]:
        nonlocal calls
        calls += 1
        return await real(db, projects)

    monkeypatch.setattr(gallery, "species_names", counted)
    await photo_now(1)
    await sign_in(user, email)
    await user.should_see("photos taken today")
    assert species_links(user) == [odd]  # the whole taxon, "&" and "#" included
    loaded = calls
    for number in (2, 3):  # new photos arrive: the page follows them live
        await photo_now(number)
        ui_world.services.events.publish("image.processed", {"project_id": project_id})
        await eventually(lambda n=number: todays_count(user) == str(n), what=f"{number} photos shown")  # type: ignore[misc]
    assert calls == loaded


def todays_count(user: User) -> str | None:
    shown = [label.text for label in elements(user, ui.label) if "addax-photos-today" in label.classes]
    return shown[0] if shown else None
