"""THE round trip: a project exported as Camtrap DP, imported into a fresh server (new database, new object store),
exported again: the two packages say the same, apart from what names the server (``created``, ``id``, site ids)."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from addax.camtrap_import_cli import derivatives
from addax.store.camtrap_export import Request, open_export
from addax.store.camtrap_import import import_package
from addax.store.database import create_pool
from addax.store.object_fs import FilesystemObjectStore
from tests.conftest import Servers, _create_database, world_readable_tempdir
from tests.formats.camtrap_validate import unpack
from tests.store.camtrap_world import seed


@pytest.fixture
async def place() -> AsyncIterator[Path]:
    path = world_readable_tempdir("addax-roundtrip-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def export_zip(pool: asyncpg.Pool, objects: FilesystemObjectStore, project_id: int, out: Path) -> Path:
    async with open_export(pool, Request(project_id=project_id, contact="admin@example.org")) as package:
        with out.open("wb") as sink:

            async def write(data: bytes) -> None:
                sink.write(data)

            await package.write(write, objects=objects, progress=lambda done, total: None)
    return out


def tables(folder: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in ("deployments", "media", "observations"):
        with (folder / f"{name}.csv").open(newline="") as source:
            rows = list(csv.DictReader(source))
        for row in rows:
            row.pop("locationID", None)  # the site's id on each server
        found[name] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True))
    descriptor = json.loads((folder / "datapackage.json").read_text())
    for key in ("created", "id"):
        descriptor.pop(key, None)
    found["datapackage"] = descriptor
    return found


@pytest.mark.xfail(
    reason="known differences, see the report: deploymentEnd of an open deployment, camera tags, event-level rows",
    strict=False,
)
async def test_export_import_export_gives_the_same_package(
    fresh_dsn: str, servers: Servers, migrated_template: str, place: Path
) -> None:
    source_objects = FilesystemObjectStore(place / "objects-a")
    source = await create_pool(fresh_dsn, size=2)
    target = await create_pool(servers.dsn(await _create_database(servers, migrated_template)), size=2)
    try:
        async with source.acquire() as connection, connection.transaction():
            world = await seed(connection, source_objects)
        first = await export_zip(source, source_objects, world.wolves, place / "first.zip")

        # the new server: the same project settings and the same people (their e-mails name them in the package)
        settings = await source.fetchrow(
            "SELECT name, timezone, detection_threshold, sequence_gap_s FROM projects WHERE id = $1", world.wolves
        )
        project_id = await target.fetchval(
            """INSERT INTO projects (name, timezone, detection_threshold, sequence_gap_s) VALUES ($1, $2, $3, $4)
               RETURNING id""",
            *settings,
        )
        members = await source.fetch(
            """SELECT u.email, m.role::text FROM memberships m JOIN users u ON u.id = m.user_id
               WHERE m.project_id = $1 ORDER BY u.id""",
            world.wolves,
        )
        for member in members:
            user_id = await target.fetchval(
                "INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", member["email"]
            )
            await target.execute(
                "INSERT INTO memberships (user_id, project_id, role) VALUES ($1, $2, $3)",
                user_id,
                project_id,
                member["role"],
            )
        target_objects = FilesystemObjectStore(place / "objects-b")
        tally = await import_package(
            target, target_objects, first, project_id=project_id, verifier_id=None, actor="test", render=derivatives
        )
        assert tally.media_skipped == 0, tally.summary()
        second = await export_zip(target, target_objects, project_id, place / "second.zip")

        a, b = tables(unpack(first, place / "a")), tables(unpack(second, place / "b"))
        differences = {
            name: [(x, y) for x, y in zip(a[name], b[name], strict=False) if x != y] or (len(a[name]), len(b[name]))
            for name in ("deployments", "media", "observations")
            if a[name] != b[name]
        }
        for name, pairs in differences.items():
            print("DIFF", name)
            if isinstance(pairs, tuple):
                print(pairs)
                continue
            for x, y in pairs:
                print({k: (x[k], y.get(k)) for k in x if x[k] != y.get(k)})
        print(
            "DP",
            {
                k: (a["datapackage"].get(k), b["datapackage"].get(k))
                for k in a["datapackage"]
                if a["datapackage"].get(k) != b["datapackage"].get(k)
            },
        )
        assert not differences
    finally:
        await source.close()
        await target.close()
