"""`addax import camtrap-dp` on the real database and a directory object store: the official example package,
a variant with its media files in a zip, broken packages refused line by line, and a second import that adds
nothing."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import pytest
from PIL import Image

from addax.camtrap_import_cli import MediaInspector, derivatives
from addax.domain.camtrap_package import PackageError
from addax.domain.secrets import hash_password
from addax.store import accounts
from addax.store.camtrap_import import ImportRefused, Tally, import_package
from addax.store.database import create_pool
from addax.store.object_fs import FilesystemObjectStore

EXAMPLE = Path(__file__).resolve().parents[1] / "formats" / "camtrap_dp_example"
TABLES = ("deployments", "media", "observations")
INSPECT = MediaInspector(max_bytes=50 << 20)


@pytest.fixture
async def db(fresh_dsn: str) -> asyncpg.Pool:
    pool = await create_pool(fresh_dsn, size=2)
    yield pool
    await pool.close()


@pytest.fixture
async def project(db: asyncpg.Pool) -> int:
    project_id = await accounts.add_project(db, "mica", by="test")
    await accounts.add_user(
        db, "admin@example.org", hash_password("p"), role=accounts.Role.PROJECT_ADMIN, project="mica", by="test"
    )
    return project_id


def jpeg(seed: int) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (64, 48), (seed * 20 % 256, 90, 120)).save(output, "JPEG")
    return output.getvalue()


def local_media_paths() -> list[str]:
    with (EXAMPLE / "media.csv").open(newline="") as file:
        return [row["filePath"] for row in csv.DictReader(file) if not row["filePath"].startswith("http")]


def example_dir(target: Path, *, with_media: bool) -> Path:
    shutil.copytree(EXAMPLE, target)
    if with_media:  # the official example's 10 JPEGs stand in as small pictures of our own (3 MB less in git)
        for number, path in enumerate(local_media_paths()):
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            (target / path).write_bytes(jpeg(number))
    return target


def zipped(directory: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return target


async def counts(db: asyncpg.Pool, project_id: int) -> dict[str, int]:
    queries = {
        "cameras": "SELECT count(*) FROM cameras WHERE project_id = $1",
        "sites": "SELECT count(*) FROM sites WHERE project_id = $1",
        "deployments": "SELECT count(*) FROM deployments d JOIN cameras c ON c.id = d.camera_id"
        " WHERE c.project_id = $1",
        "images": "SELECT count(*) FROM images WHERE project_id = $1",
        "verifications": "SELECT count(*) FROM verifications v JOIN images i ON i.id = v.image_id"
        " WHERE i.project_id = $1",
        "boxes": "SELECT coalesce(sum(jsonb_array_length(v.boxes)), 0) FROM verifications v"
        " JOIN images i ON i.id = v.image_id WHERE i.project_id = $1",
        "detections": "SELECT count(*) FROM detections d JOIN images i ON i.id = d.image_id WHERE i.project_id = $1",
        "events": "SELECT count(*) FROM events WHERE project_id = $1",
    }
    return {name: int(await db.fetchval(query, project_id)) for name, query in queries.items()}


async def run(
    db: asyncpg.Pool, objects: FilesystemObjectStore, package: Path, project_id: int, **options: object
) -> Tally:
    return await import_package(
        db,
        objects,
        package,
        project_id=project_id,
        verifier_id=None,
        actor="test",
        render=derivatives,
        inspect=INSPECT,
        **options,
    )


def rewrite(csv_path: Path, change: dict[int, dict[str, str]], extra: list[dict[str, str]] = ()) -> None:
    """Rows of a CSV changed by line number (the header is line 1), and rows added at the end."""
    with csv_path.open(newline="") as file:
        reader = csv.DictReader(file)
        header, rows = list(reader.fieldnames or []), list(reader)
    for line, values in change.items():
        rows[line - 2].update(values)
    with csv_path.open("w", newline="") as file:
        writer = csv.DictWriter(file, header)
        writer.writeheader()
        writer.writerows([*rows, *({name: "" for name in header} | row for row in extra)])


async def test_the_official_example_without_its_files_imports_deployments_and_skips_every_media(
    db: asyncpg.Pool, project: int, tmp_path: Path
) -> None:
    objects = FilesystemObjectStore(tmp_path / "objects")
    tally = await run(db, objects, example_dir(tmp_path / "example", with_media=False), project)
    # 413 media are Agouti URLs, 10 name files under media/ that this copy lacks: none is in the store either
    assert (tally.deployments_created, tally.media_imported, tally.media_matched, tally.media_skipped) == (4, 0, 0, 423)
    assert (tally.verifications, tally.detections, tally.observations_skipped) == (0, 0, 549)
    assert len(tally.problems) == 20 and "not in the package and no image of this project" in tally.problems[0]
    assert await counts(db, project) == {
        "cameras": 4, "sites": 4, "deployments": 4, "images": 0,
        "verifications": 0, "boxes": 0, "detections": 0, "events": 0,
    }  # fmt: skip
    row = await db.fetchrow(
        """SELECT c.identity, c.status::text, c.make, c.model, s.name, ST_Y(s.location::geometry) AS lat,
                  d.starts_on, d.ends_on
           FROM deployments d JOIN cameras c ON c.id = d.camera_id JOIN sites s ON s.id = d.site_id
           WHERE c.identity = '320'"""
    )
    assert dict(row) == {
        "identity": "320", "status": "active", "make": "Reconyx", "model": "HF2X", "name": "B_HS_val 2_processiepark",
        "lat": 51.496, "starts_on": date(2020, 5, 30), "ends_on": date(2020, 7, 1),
    }  # fmt: skip


async def test_a_zip_with_media_files_imports_them_with_observations_and_a_second_import_adds_nothing(
    db: asyncpg.Pool, project: int, tmp_path: Path
) -> None:
    directory = example_dir(tmp_path / "example", with_media=True)
    # a person's say on one of the 10 photos whose files are in the package (the example has only machine ones)
    rewrite(
        directory / "observations.csv",
        {},
        [
            {"observationID": "mine-1", "deploymentID": "62c200a9", "mediaID": "7ab33b3a",
             "eventStart": "2021-04-11T19:43:09Z", "eventEnd": "2021-04-11T19:43:09Z", "observationLevel": "media",
             "observationType": "animal", "scientificName": "Ardea cinerea", "count": "2",
             "bboxX": "0.1", "bboxY": "0.2", "bboxWidth": "0.3", "bboxHeight": "0.4",
             "classificationMethod": "human", "classifiedBy": "Jane Doe", "observationComments": "two herons"},
        ],
    )  # fmt: skip
    package = zipped(directory, tmp_path / "example.zip")
    objects = FilesystemObjectStore(tmp_path / "objects")

    first = await run(db, objects, package, project)
    assert (first.deployments_created, first.media_imported, first.media_skipped) == (4, 10, 413)
    assert (first.verifications, first.detections) == (1, 10)
    before = await counts(db, project)
    assert before == {
        "cameras": 4, "sites": 4, "deployments": 4, "images": 10,
        "verifications": 1, "boxes": 1, "detections": 10, "events": 1,
    }  # fmt: skip

    photo = await db.fetchrow(
        """SELECT i.*, v.boxes, v.notes, v.verified_by FROM images i JOIN verifications v ON v.image_id = i.id
           WHERE i.original_name = '20210531082538-RCNX0031.JPG'"""
    )
    assert photo["taken_at"] == datetime(2021, 4, 11, 19, 43, 9, tzinfo=UTC) and photo["utc_offset_minutes"] == 60
    assert (photo["stage"], photo["source"], photo["realtime"], photo["verified"]) == ("done", "import", False, True)
    assert (list(photo["labels"]), list(photo["taxa"])) == (["animal"], ["Ardea cinerea"])
    assert photo["boxes"] == [
        {"detection": None, "label": "animal", "taxon": "Ardea cinerea", "common_name": "grey heron", "count": 2,
         "bbox": [0.1, 0.2, 0.3, 0.4]}
    ]  # fmt: skip
    assert photo["notes"] == "classified by Jane Doe; two herons"
    assert photo["verified_by"] == await accounts.user_id(db, "admin@example.org")  # the project's first admin
    assert await objects.read(photo["original_key"]) == jpeg(0)
    assert photo["original_key"] == f"originals/{project}/{photo['sha256'].hex()[:2]}/{photo['sha256'].hex()}.jpg"
    assert (await objects.read(photo["thumbnail_key"]))[:3] == b"\xff\xd8\xff"
    machine = await db.fetch(
        """SELECT d.label::text, d.score, d.bbox, d.model, c.taxon, c.rank FROM detections d
           JOIN classifications c ON c.detection_id = d.id JOIN images i ON i.id = d.image_id
           WHERE i.original_name = '20210531082540-RCNX0036.JPG'"""
    )
    (box,) = machine  # fd2f32cc_1 in the example: bbox 0.49533, 0.61048, 0.1331, 0.30791, probability 0.88
    assert (box["label"], box["score"], box["taxon"], box["rank"]) == ("animal", pytest.approx(0.88), "Ardea", 1)
    assert box["bbox"] == pytest.approx([0.49533, 0.61048, 0.1331, 0.30791])
    assert box["model"] == "Western Europe species model Version 1"
    done = await db.fetch("SELECT stage::text, thumbnail_key, event_id FROM images WHERE project_id = $1", project)
    assert all(row["stage"] == "done" and row["thumbnail_key"] and row["event_id"] for row in done)

    second = await run(db, objects, package, project)
    assert (second.deployments_created, second.deployments_known) == (0, 4)
    assert (second.media_imported, second.media_known, second.verifications, second.detections) == (0, 10, 0, 0)
    assert await counts(db, project) == before


async def test_media_already_in_the_store_are_matched_by_name_and_time(
    db: asyncpg.Pool, project: int, tmp_path: Path
) -> None:
    image_id = await db.fetchval(
        """INSERT INTO images (project_id, sha256, original_name, source, size_bytes, original_key, stage, taken_at)
           VALUES ($1, '\\x01', '20200709093328-RCNX0001.JPG', 'ftp', 1, 'k', 'done', '2020-05-30T02:57:37Z')
           RETURNING id""",
        project,
    )
    tally = await run(
        db, FilesystemObjectStore(tmp_path / "objects"), example_dir(tmp_path / "p", with_media=False), project
    )
    assert (tally.media_matched, tally.media_skipped, tally.verifications) == (1, 422, 1)
    boxes = await db.fetchval("SELECT boxes FROM verifications WHERE image_id = $1", image_id)
    assert [(box["label"], box["taxon"]) for box in boxes] == [("animal", "Anas platyrhynchos")]


async def test_an_invalid_package_is_refused_with_its_lines_and_skip_invalid_leaves_those_rows_out(
    db: asyncpg.Pool, project: int, tmp_path: Path
) -> None:
    directory = example_dir(tmp_path / "example", with_media=True)
    rewrite(directory / "observations.csv", {12: {"observationType": "cat"}, 13: {"count": "two"}})
    rewrite(directory / "media.csv", {3: {"timestamp": "2020-05-30 04:57:40"}, 4: {"deploymentID": "nowhere"}})
    objects = FilesystemObjectStore(tmp_path / "objects")
    with pytest.raises(ImportRefused) as refused:
        await run(db, objects, directory, project)
    assert refused.value.problems == [
        "media.csv line 3: timestamp '2020-05-30 04:57:40' is not a datetime (has no UTC offset)",
        "media.csv line 4: deploymentID 'nowhere' is not in deployments.csv",
        # the observations of those two media point at nothing now
        "observations.csv line 4: mediaID '401386c7' is not in media.csv",
        "observations.csv line 5: mediaID 'ca3ff293' is not in media.csv",
        "observations.csv line 12: observationType 'cat' is not one of animal, human, vehicle, blank, unknown, "
        "unclassified",
        "observations.csv line 13: count 'two' is not a integer (invalid literal for int() with base 10: 'two')",
    ]
    assert str(refused.value).startswith("the package has 6 problem(s), nothing imported")
    assert (await counts(db, project))["deployments"] == 0

    tally = await run(db, objects, directory, project, skip_invalid=True)
    assert tally.invalid_rows == 6 and tally.deployments_created == 4 and tally.media_imported == 10


async def test_a_package_that_is_not_camtrap_dp_is_refused(db: asyncpg.Pool, project: int, tmp_path: Path) -> None:
    directory = example_dir(tmp_path / "example", with_media=False)
    descriptor = json.loads((directory / "datapackage.json").read_text())
    del descriptor["created"]
    descriptor["resources"] = [r for r in descriptor["resources"] if r["name"] != "media"]
    (directory / "datapackage.json").write_text(json.dumps(descriptor))
    with pytest.raises(PackageError, match=r"datapackage\.json has no media resource"):
        await run(db, FilesystemObjectStore(tmp_path / "o"), directory, project)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackageError, match=r"no datapackage\.json in this directory"):
        await run(db, FilesystemObjectStore(tmp_path / "o"), tmp_path / "empty", project)


async def test_descriptor_problems_are_listed(db: asyncpg.Pool, project: int, tmp_path: Path) -> None:
    directory = example_dir(tmp_path / "example", with_media=False)
    descriptor = json.loads((directory / "datapackage.json").read_text())
    del descriptor["created"]
    (directory / "datapackage.json").write_text(json.dumps(descriptor))
    with pytest.raises(ImportRefused) as refused:
        await run(db, FilesystemObjectStore(tmp_path / "o"), directory, project)
    assert refused.value.problems == ["datapackage.json (top level): 'created' is a required property"]


async def test_an_import_that_died_before_finishing_is_finished_by_running_it_again(
    db: asyncpg.Pool, project: int, tmp_path: Path
) -> None:
    """A crash after the photos and observations were written but before they were finished (thumbnails, events,
    the verification's labels): the re-run adds nothing twice and finishes them, so no verified animal stays
    labelled blank (which retention would delete) and no photo stays without its event."""
    directory = example_dir(tmp_path / "example", with_media=True)
    rewrite(
        directory / "observations.csv",
        {},
        [
            {"observationID": "mine-1", "deploymentID": "62c200a9", "mediaID": "7ab33b3a",
             "eventStart": "2021-04-11T19:43:09Z", "eventEnd": "2021-04-11T19:43:09Z", "observationLevel": "media",
             "observationType": "animal", "scientificName": "Ardea cinerea", "count": "2",
             "classificationMethod": "human"},
        ],
    )  # fmt: skip
    package = zipped(directory, tmp_path / "example.zip")
    objects = FilesystemObjectStore(tmp_path / "objects")

    def killed(*_: object) -> tuple[bytes, bytes]:
        raise SystemExit("the process died while drawing thumbnails")

    with pytest.raises(SystemExit):
        await import_package(
            db, objects, package, project_id=project, verifier_id=None, actor="test", render=killed, inspect=INSPECT
        )
    again = await run(db, objects, package, project)

    assert (again.media_imported, again.media_known) == (0, 10)
    assert await counts(db, project) == {
        "cameras": 4, "sites": 4, "deployments": 4, "images": 10,
        "verifications": 1, "boxes": 1, "detections": 10, "events": 1,
    }  # fmt: skip
    done = await db.fetch(
        "SELECT stage::text, thumbnail_key, event_id, processed_at FROM images WHERE project_id = $1", project
    )
    assert all(row["stage"] == "done" and row["thumbnail_key"] and row["event_id"] for row in done)
    assert all(row["processed_at"] for row in done)
    heron = await db.fetchrow("SELECT verified, labels, taxa FROM images WHERE original_name = $1",
                              "20210531082538-RCNX0031.JPG")  # fmt: skip
    assert (heron["verified"], list(heron["labels"]), list(heron["taxa"])) == (True, ["animal"], ["Ardea cinerea"])
    assert await db.fetchval("SELECT sum(image_count) FROM events WHERE project_id = $1", project) == 10
