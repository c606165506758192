"""The Camtrap DP export of a real project: valid by frictionless and the profile (offline), verifications win,
boxes, events, offsets, filters, media inside the zip with the stored bytes, and a package that is wrong fails."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import json
import shutil
import urllib.request
import zipfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from addax.domain.camtrap import Selection
from addax.store.camtrap_export import ExportError, MediaLinks, Request, Tally, open_export
from addax.store.object_fs import FilesystemObjectStore
from addax.store.object_s3 import S3Location, open_s3_store
from tests.conftest import world_readable_tempdir
from tests.formats.camtrap_validate import FORMATS, package_errors, unpack
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.store.camtrap_world import World, seed

# the official example package, less its photos
EXAMPLE = Path(__file__).resolve().parents[1] / "formats" / "camtrap_dp_example"


@pytest.fixture
async def place() -> AsyncIterator[Path]:
    path = world_readable_tempdir("addax-camtrap-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def setting(fresh_dsn: str, place: Path) -> AsyncIterator[tuple[asyncpg.Pool, FilesystemObjectStore, World]]:
    from addax.store.database import create_pool

    objects = FilesystemObjectStore(place / "objects")
    pool = await create_pool(fresh_dsn, size=3)
    async with pool.acquire() as connection, connection.transaction():
        world = await seed(connection, objects)
    yield pool, objects, world
    await pool.close()


async def export(
    pool: asyncpg.Pool, objects: FilesystemObjectStore, world: World, out: Path, **options: Any
) -> tuple[Tally, list[tuple[int, int]]]:
    seen: list[tuple[int, int]] = []
    request = Request(project_id=world.wolves, contact="admin@example.org", **options)
    async with open_export(pool, request) as package:
        with out.open("wb") as sink:

            async def write(data: bytes) -> None:
                sink.write(data)

            tally = await package.write(write, objects=objects, progress=lambda done, total: seen.append((done, total)))
    return tally, seen


def table(folder: Path, name: str) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(newline="") as source:
        return list(csv.DictReader(source))


def test_the_validators_pass_the_official_example_and_fail_a_broken_one(tmp_path: Path) -> None:
    good = shutil.copytree(EXAMPLE, tmp_path / "example")
    assert package_errors(good) == []
    broken = shutil.copytree(EXAMPLE, tmp_path / "broken")
    descriptor = json.loads((broken / "datapackage.json").read_text())
    del descriptor["project"]["samplingDesign"]
    (broken / "datapackage.json").write_text(json.dumps(descriptor))
    errors = package_errors(broken)
    assert any(e.startswith("jsonschema project") and "samplingDesign" in e for e in errors), errors
    assert any(e.startswith("frictionless") and "samplingDesign" in e for e in errors), errors
    bad_row = shutil.copytree(EXAMPLE, tmp_path / "bad-row")
    rows = (bad_row / "observations.csv").read_text().splitlines()
    rows[1] = rows[1].replace(",event,", ",sequence,", 1)
    (bad_row / "observations.csv").write_text("\n".join(rows) + "\n")
    assert any("observationLevel" in e for e in package_errors(bad_row))
    assert (FORMATS / "LICENSE").is_file()


async def test_a_project_exports_as_a_valid_package_with_its_files(setting: Any, place: Path) -> None:
    pool, objects, world = setting
    tally, progress = await export(pool, objects, world, place / "wolves.zip")
    folder = unpack(place / "wolves.zip", place / "wolves")
    assert package_errors(folder) == []
    assert tally.unlocated == 1 and tally.deployments == 2
    assert progress[-1][0] == progress[-1][1] == 3 * tally.media

    deployments = {row["deploymentID"]: row for row in table(folder, "deployments")}
    assert set(deployments) == {"SN-gate-cam-20240501", "SN-meadow-cam-20240501"}
    gate = deployments["SN-gate-cam-20240501"]
    assert gate["locationName"] == "North gate" and gate["cameraModel"] == "Browning-BTC-8E"
    assert gate["deploymentStart"] == "2024-05-01T00:00:00+02:00"
    assert gate["deploymentTags"] == "fence"
    assert deployments["SN-meadow-cam-20240501"]["deploymentEnd"] == "2024-05-20T23:59:59+02:00"

    media = {row["mediaID"]: row for row in table(folder, "media")}
    assert world.sha["rejected"] not in media and world.sha["lost"] not in media
    assert len(media) == tally.media == 10
    for row in media.values():
        assert row["timestamp"][-6] in "+-", row["timestamp"]  # an offset, always
        target = folder / row["filePath"]
        assert target.resolve().is_relative_to(folder.resolve())
        assert hashlib.sha256(target.read_bytes()).hexdigest() == row["mediaID"]
        assert world.originals[row["mediaID"]] == target.read_bytes()
    assert media[world.sha["deer0"]]["timestamp"] == "2024-05-10T06:00:00+02:00"
    assert media[world.sha["boar"]]["timestamp"] == "2024-05-16T06:00:00+02:00"  # no offset: the project's zone
    assert "/" not in media[world.sha["boar"]]["filePath"].rsplit("/", 1)[1].replace("..", "")
    assert media[world.sha["video"]]["fileMediatype"] == "video/mp4"
    assert media[world.sha["person0"]]["filePublic"] == "false"
    assert media[world.sha["deer0"]]["filePublic"] == "true"

    observations = table(folder, "observations")
    by_media: dict[str, list[dict[str, str]]] = {}
    for row in observations:
        by_media.setdefault(row["mediaID"], []).append(row)
    fox = by_media[world.sha["deer1"]]
    assert [(o["scientificName"], o["count"], o["classificationMethod"]) for o in fox] == [
        ("Vulpes vulpes", "2", "human")
    ]
    assert fox[0]["classifiedBy"] == "annotator@example.org" and fox[0]["bboxX"] == "0.1"
    deer = by_media[world.sha["deer0"]][0]
    assert (deer["scientificName"], deer["classificationMethod"], deer["classifiedBy"]) == (
        "Capreolus capreolus",
        "machine",
        "deepfaune",
    )
    assert [float(deer[key]) for key in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")] == [0.2, 0.4, 0.25, 0.25]
    assert by_media[world.sha["boar"]][0]["observationType"] == "blank"  # the person said blank
    assert by_media[world.sha["boar"]][0]["classificationMethod"] == "human"
    assert by_media[world.sha["empty"]][0]["observationType"] == "blank"
    assert by_media[world.sha["weak"]][0]["observationType"] == "blank"  # below the threshold
    assert by_media[world.sha["waiting"]][0]["observationType"] == "unclassified"
    assert by_media[world.sha["person0"]][0]["observationType"] == "human"
    for row in observations:
        if row["bboxX"]:
            x, y, w, h = (float(row[key]) for key in ("bboxX", "bboxY", "bboxWidth", "bboxHeight"))
            assert 0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9
        for key in ("eventStart", "eventEnd", "classificationTimestamp"):
            assert not row[key] or row[key][-6] in "+-", row[key]

    events = [row for row in observations if row["observationLevel"] == "event"]
    roe = [row for row in events if row["eventID"] == fox[0]["eventID"]]
    # a person verified one photo of the event: the event is what they said, not the models' deer
    assert [(o["scientificName"], o["count"], o["classificationMethod"]) for o in roe] == [
        ("Vulpes vulpes", "2", "human")
    ]
    assert roe[0]["eventStart"] == "2024-05-10T06:00:00+02:00" and roe[0]["eventEnd"] == "2024-05-10T06:00:20+02:00"
    assert by_media[world.sha["deer0"]][0]["eventID"] == roe[0]["eventID"]
    # every finished photo is in an event (the empty one alone in its own, blank)
    assert {row["observationType"] for row in events} == {"animal", "human", "blank"}
    empty = by_media[world.sha["empty"]][0]["eventID"]
    assert [row["observationType"] for row in events if row["eventID"] == empty] == ["blank"]
    assert by_media[world.sha["waiting"]][0]["eventID"] == ""  # not through detection: in no event yet

    descriptor = json.loads((folder / "datapackage.json").read_text())
    taxa = {entry["scientificName"]: entry for entry in descriptor["taxonomic"]}
    assert taxa["Vulpes vulpes"] == {
        "scientificName": "Vulpes vulpes",
        "taxonRank": "species",
        "vernacularNames": {"eng": "red fox"},
    }
    assert set(taxa) == {"Vulpes vulpes", "Capreolus capreolus", "Sus scrofa"}
    assert descriptor["temporal"] == {"start": "2024-05-01", "end": "2024-05-20"}
    assert descriptor["spatial"]["type"] == "Polygon"
    assert descriptor["contributors"][0] == {
        "title": "admin@example.org",
        "role": "contact",
        "email": "admin@example.org",
    }
    assert {entry["scope"] for entry in descriptor["licenses"]} == {"data", "media"}


async def test_filters_narrow_media_and_deployments(setting: Any, place: Path) -> None:
    pool, objects, world = setting
    await export(
        pool,
        objects,
        world,
        place / "few.zip",
        selection=Selection(first_day=date(2024, 5, 10), last_day=date(2024, 5, 12), sites=("South meadow",)),
        links=MediaLinks(mode="url", public_url="https://addax.example.org"),
    )
    folder = unpack(place / "few.zip", place / "few")
    assert package_errors(folder) == []
    assert [row["deploymentID"] for row in table(folder, "deployments")] == ["SN-meadow-cam-20240501"]
    media = table(folder, "media")
    assert {row["mediaID"] for row in media} == {world.sha["person0"], world.sha["person1"]}
    assert media[0]["filePath"].startswith("https://addax.example.org/api/images/")
    assert not any(name.startswith("media/") for name in zipfile.ZipFile(place / "few.zip").namelist())
    deployment = table(folder, "deployments")[0]
    assert (deployment["deploymentStart"], deployment["deploymentEnd"]) == (
        "2024-05-10T00:00:00+02:00",
        "2024-05-12T23:59:59+02:00",
    )

    await export(pool, objects, world, place / "boar.zip", selection=Selection(species=("sus scrofa",)))
    folder = unpack(place / "boar.zip", place / "boar")
    assert package_errors(folder) == []
    # the verified-blank boar photo is not a boar photo: a person's word wins in the filter too
    assert {row["mediaID"] for row in table(folder, "media")} == {world.sha["video"]}
    assert len(table(folder, "deployments")) == 2  # effort: every deployment, with or without the species

    with pytest.raises(ExportError, match="no deployment at site 'Nowhere'"):
        await export(pool, objects, world, place / "none.zip", selection=Selection(sites=("Nowhere",)))


async def test_people_stay_out_of_the_zip_for_those_who_may_not_see_them(setting: Any, place: Path) -> None:
    pool, objects, world = setting
    await export(
        pool,
        objects,
        world,
        place / "viewer.zip",
        links=MediaLinks(mode="zip", public_url="https://a.example", private_originals=False),
    )
    folder = unpack(place / "viewer.zip", place / "viewer")
    assert package_errors(folder) == []
    media = {row["mediaID"]: row for row in table(folder, "media")}
    person = media[world.sha["person0"]]
    assert person["filePath"].endswith(f"/api/images/{world.images['person0']}/file?variant=annotated")
    names = zipfile.ZipFile(place / "viewer.zip").namelist()
    assert not any(world.sha["person0"][:12] in name for name in names)
    assert any(world.sha["deer0"][:12] in name for name in names)


async def test_an_unknown_project_is_an_error(setting: Any, place: Path) -> None:
    pool = setting[0]
    with pytest.raises(ExportError, match="does not exist"):
        async with open_export(pool, Request(project_id=999999)):
            pass


async def test_an_original_missing_from_the_store_is_left_out_and_linked_not_a_broken_export(
    setting: Any, place: Path
) -> None:
    """One lost file must not cut off the package of a whole project mid-download: its row links to the API instead
    (which answers 404 for it, as the file is gone), the summary counts it, and every other file is inside."""
    pool, objects, world = setting
    key = await pool.fetchval("SELECT original_key FROM images WHERE id = $1", world.images["deer0"])
    await objects.delete(key)

    tally, _ = await export(
        pool, objects, world, place / "holey.zip", links=MediaLinks(mode="zip", public_url="https://a.example")
    )

    folder = unpack(place / "holey.zip", place / "holey")
    assert package_errors(folder) == []
    media = {row["mediaID"]: row for row in table(folder, "media")}
    assert len(media) == tally.media == 10
    lost = media[world.sha["deer0"]]
    assert lost["filePath"] == f"https://a.example/api/images/{world.images['deer0']}/file?variant=original"
    assert not any(world.sha["deer0"][:12] in name for name in zipfile.ZipFile(place / "holey.zip").namelist())
    assert tally.missing_files == 1 and tally.files == 9
    assert "1 file missing from the object store" in tally.summary()
    for sha, row in media.items():
        if sha != world.sha["deer0"]:
            assert hashlib.sha256((folder / row["filePath"]).read_bytes()).hexdigest() == sha


async def test_links_on_an_s3_store_are_signed_and_fetch_the_stored_bytes(
    fresh_dsn: str, place: Path, s3_server: S3Server
) -> None:
    from addax.store.database import create_pool

    bucket = s3_server.new_bucket()
    location = S3Location(s3_server.endpoint_url, bucket, "addax", ACCESS_KEY, SECRET_KEY, REGION)
    pool = await create_pool(fresh_dsn, size=3)
    try:
        async with open_s3_store(location) as objects:
            async with pool.acquire() as connection, connection.transaction():
                world = await seed(connection, objects)  # type: ignore[arg-type]
            links = MediaLinks(mode="url", public_url="https://addax.example.org", signed_for_s=3600)
            links = dataclasses.replace(links, private_originals=True)
            await export(pool, objects, world, place / "signed.zip", links=links)  # type: ignore[arg-type]
    finally:
        await pool.close()
    folder = unpack(place / "signed.zip", place / "signed")
    assert package_errors(folder) == []
    media = table(folder, "media")
    assert media and all(row["filePath"].startswith(f"{s3_server.endpoint_url}/{bucket}/addax/") for row in media)
    for row in media:
        assert "X-Amz-Expires=3600" in row["filePath"] and "X-Amz-Signature=" in row["filePath"]
        fetched = await asyncio.to_thread(_fetch, row["filePath"])  # no keys: the link alone
        assert hashlib.sha256(fetched).hexdigest() == row["mediaID"]


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read())
