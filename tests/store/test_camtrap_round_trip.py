"""THE round trip: a project exported as Camtrap DP, imported into a fresh server (new database, new object store),
exported again: the two packages say the same, apart from what names the server (``created``, ``id``, site ids)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from addax.camtrap_import_cli import MediaInspector, derivatives
from addax.store.camtrap_export import Request, open_export
from addax.store.camtrap_import import import_package
from addax.store.database import create_pool
from addax.store.object_fs import FilesystemObjectStore
from addax.store.object_s3 import S3Location, open_s3_store
from addax.store.objects import ObjectStore
from tests.conftest import Servers, _create_database, world_readable_tempdir
from tests.formats.camtrap_validate import unpack
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.store.camtrap_world import seed


@pytest.fixture
async def place() -> AsyncIterator[Path]:
    path = world_readable_tempdir("addax-roundtrip-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def export_zip(pool: asyncpg.Pool, objects: ObjectStore, project_id: int, out: Path) -> Path:
    async with open_export(pool, Request(project_id=project_id, contact="admin@example.org")) as package:
        with out.open("wb") as sink:

            async def write(data: bytes) -> None:
                sink.write(data)

            await package.write(write, objects=objects, progress=lambda done, total: None)
    return out


KEYS = {"deployments": "deploymentID", "media": "mediaID", "observations": "observationID"}


def tables(folder: Path) -> dict[str, Any]:
    """Each table's rows by their ID (stable across servers), and the descriptor less what names the export."""
    found: dict[str, Any] = {}
    for name, key in KEYS.items():
        with (folder / f"{name}.csv").open(newline="") as source:
            rows = list(csv.DictReader(source))
        for row in rows:
            row.pop("locationID", None)  # the site's id on each server
        found[name] = {row[key]: row for row in rows}
        assert len(found[name]) == len(rows), f"{name}.csv: an ID appears twice"
    descriptor = json.loads((folder / "datapackage.json").read_text())
    for key in ("created", "id"):
        descriptor.pop(key, None)
    found["datapackage"] = descriptor
    return found


def differences(first: dict[str, Any], second: dict[str, Any]) -> list[str]:
    """What differs, one line per row: rows only in one package, and for the others only their differing fields."""
    lines = []
    for name in KEYS:
        a, b = first[name], second[name]
        lines += [f"{name}: only in the first: {key} {a[key]}" for key in sorted(a.keys() - b.keys())]
        lines += [f"{name}: only in the second: {key} {b[key]}" for key in sorted(b.keys() - a.keys())]
        for key in sorted(a.keys() & b.keys()):
            fields = {f: (a[key].get(f), b[key].get(f)) for f in a[key].keys() | b[key].keys()}
            if changed := {f: pair for f, pair in sorted(fields.items()) if pair[0] != pair[1]}:
                lines.append(f"{name} {key}: {changed}")
    a, b = first["datapackage"], second["datapackage"]
    lines += [
        f"datapackage.json {key}: {a.get(key)!r} != {b.get(key)!r}"
        for key in sorted(a.keys() | b.keys())
        if a.get(key) != b.get(key)
    ]
    return lines


async def new_server(
    servers: Servers, template: str, source: asyncpg.Pool, project: int, *, gap_s: int | None = None
) -> tuple[asyncpg.Pool, int]:
    """A fresh database with the source project's settings (``gap_s``: another sequence gap) and its people (their
    e-mails name them in the package): its pool and the project's id."""
    target = await create_pool(servers.dsn(await _create_database(servers, template)), size=2)
    settings = await source.fetchrow(
        "SELECT name, timezone, detection_threshold, sequence_gap_s FROM projects WHERE id = $1", project
    )
    project_id = await target.fetchval(
        """INSERT INTO projects (name, timezone, detection_threshold, sequence_gap_s) VALUES ($1, $2, $3, $4)
           RETURNING id""",
        *settings[:3],
        settings["sequence_gap_s"] if gap_s is None else gap_s,
    )
    members = await source.fetch(
        """SELECT u.email, m.role::text FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.project_id = $1 ORDER BY u.id""",
        project,
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
    return target, project_id


async def import_and_export_again(
    target: asyncpg.Pool, objects: ObjectStore, project_id: int, first: Path, place: Path
) -> list[str]:
    """The package imported into the new server and exported from it: how the two packages differ."""
    tally = await import_package(
        target,
        objects,
        first,
        project_id=project_id,
        verifier_id=None,
        actor="test",
        render=derivatives,
        inspect=MediaInspector(max_bytes=50 << 20),
    )
    assert tally.media_skipped == 0, tally.summary()  # (event-level machine rows are skipped: their photos tell them)
    second = await export_zip(target, objects, project_id, place / "second.zip")
    return differences(tables(unpack(first, place / "a")), tables(unpack(second, place / "b")))


@pytest.fixture
async def source(fresh_dsn: str, place: Path) -> AsyncIterator[tuple[asyncpg.Pool, int, Path]]:
    """The seeded project and its first export: (pool, project id, the package)."""
    objects = FilesystemObjectStore(place / "objects-a")
    pool = await create_pool(fresh_dsn, size=2)
    try:
        async with pool.acquire() as connection, connection.transaction():
            world = await seed(connection, objects)
        yield pool, world.wolves, await export_zip(pool, objects, world.wolves, place / "first.zip")
    finally:
        await pool.close()


# The new server's sequence gap: the source's, or 0 s (every photo its own event by the gap): the package's events
# are data, kept whatever the gap.
@pytest.mark.parametrize("gap_s", [None, 0], ids=["same-gap", "no-gap"])
async def test_export_import_export_gives_the_same_package(
    source: tuple[asyncpg.Pool, int, Path], servers: Servers, migrated_template: str, place: Path, gap_s: int | None
) -> None:
    pool, project, first = source
    target, project_id = await new_server(servers, migrated_template, pool, project, gap_s=gap_s)
    try:
        found = await import_and_export_again(
            target, FilesystemObjectStore(place / "objects-b"), project_id, first, place
        )
        assert not found, "the packages differ:\n" + "\n".join(found)
    finally:
        await target.close()


async def test_the_same_package_into_a_server_on_s3_gives_the_same_package(
    source: tuple[asyncpg.Pool, int, Path], servers: Servers, migrated_template: str, place: Path, s3_server: S3Server
) -> None:
    pool, project, first = source
    target, project_id = await new_server(servers, migrated_template, pool, project)
    bucket = s3_server.new_bucket()
    location = S3Location(s3_server.endpoint_url, bucket, "addax", ACCESS_KEY, SECRET_KEY, REGION)
    try:
        async with open_s3_store(location) as objects:
            found = await import_and_export_again(target, objects, project_id, first, place)
        assert not found, "the packages differ:\n" + "\n".join(found)
        # the originals are in the bucket (looked at behind Addax's back), under the same keys as on a filesystem
        listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=f"addax/originals/{project_id}/")
        stored = {item["Key"].rsplit("/", 1)[-1].split(".")[0] for item in listed.get("Contents", [])}
        with zipfile.ZipFile(first) as package, package.open("media.csv") as media:
            shown = {row["mediaID"] for row in csv.DictReader(io.TextIOWrapper(media, encoding="utf-8"))}
        assert stored == shown
    finally:
        await target.close()
