"""`addax import camtrap-dp` given a package made to harm: media that are not photos, decompression bombs, members
that inflate past the size limit, exifData pointing at other projects' objects, endless lines, deeply nested JSON,
symlinks out of a directory package, and classifiedBy naming a member who may not verify."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from PIL import Image

from addax.camtrap_import_cli import MediaInspector, derivatives
from addax.domain.camtrap_package import PackageError
from addax.domain.secrets import hash_password
from addax.store import accounts
from addax.store.camtrap_files import MAX_LINE, PackageFiles
from addax.store.camtrap_import import Tally, import_package
from addax.store.object_fs import FilesystemObjectStore
from addax.store.retention import apply_retention, set_rules
from tests.store import test_camtrap_import as plain
from tests.store.test_camtrap_import import example_dir, jpeg, zipped

db, project = plain.db, plain.project  # the fixtures of the plain import tests

INSPECT = MediaInspector(max_bytes=1 << 20, max_pixels=100_000_000)


async def run(db: asyncpg.Pool, objects: FilesystemObjectStore, package: Path, project_id: int) -> Tally:
    return await import_package(
        db, objects, package, project_id=project_id, verifier_id=None, actor="test", render=derivatives, inspect=INSPECT
    )


def change_media(directory: Path, changes: dict[str, dict[str, str]]) -> None:
    """Rows of media.csv changed by mediaID."""
    path = directory / "media.csv"
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        header, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        row.update(changes.get(row["mediaID"], {}))
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, header)
        writer.writeheader()
        writer.writerows(rows)


def only_local_media(directory: Path) -> None:
    """The package less its media that are links (and their observations): its notes are about the files."""

    def kept_rows(table: str, keep: Callable[[dict[str, str]], bool]) -> list[dict[str, str]]:
        with (directory / f"{table}.csv").open(newline="") as file:
            reader = csv.DictReader(file)
            header, rows = list(reader.fieldnames or []), [row for row in reader if keep(row)]
        with (directory / f"{table}.csv").open("w", newline="") as file:
            writer = csv.DictWriter(file, header)
            writer.writeheader()
            writer.writerows(rows)
        return rows

    kept = {row["mediaID"] for row in kept_rows("media", lambda row: not row["filePath"].startswith("http"))}
    kept_rows("observations", lambda row: not row["mediaID"] or row["mediaID"] in kept)


def media_file(directory: Path, media_id: str) -> Path:
    with (directory / "media.csv").open(newline="") as file:
        return directory / next(row["filePath"] for row in csv.DictReader(file) if row["mediaID"] == media_id)


def bomb() -> bytes:
    """A small JPEG whose header says 20000 x 20000 pixels (what Pillow's bomb check looks at)."""
    data = bytearray(jpeg(1))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = (20000).to_bytes(2, "big") + (20000).to_bytes(2, "big")
    return bytes(data)


async def test_media_that_intake_would_refuse_are_not_stored(db: asyncpg.Pool, project: int, tmp_path: Path) -> None:
    directory = example_dir(tmp_path / "example", with_media=True)
    only_local_media(directory)
    media_file(directory, "7ab33b3a").write_bytes(b"<html><script>alert(document.cookie)</script></html>" * 4)
    media_file(directory, "d9ef08ec").write_bytes(bomb())
    media_file(directory, "aebe5b85").write_bytes(b"\x00" * 2048)  # no known file type
    objects = FilesystemObjectStore(tmp_path / "objects")

    tally = await run(db, objects, zipped(directory, tmp_path / "p.zip"), project)

    assert tally.media_imported == 7
    assert any("media 7ab33b3a: refused" in problem for problem in tally.problems), tally.problems
    assert any("media d9ef08ec: refused" in problem and "decompression" in problem for problem in tally.problems)
    names = {row["original_name"] for row in await db.fetch("SELECT original_name FROM images")}
    assert "20210531082538-RCNX0031.JPG" not in names and "20210531082538-RCNX0032.JPG" not in names
    stored = [path.read_bytes()[:3] for path in (tmp_path / "objects" / "originals").rglob("*") if path.is_file()]
    assert len(stored) == 7 and all(head == b"\xff\xd8\xff" for head in stored)


async def test_a_media_member_is_not_inflated_past_the_size_limit(tmp_path: Path) -> None:
    package = tmp_path / "bomb.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("datapackage.json", "{}")
        archive.writestr("media/huge.jpg", b"\xff\xd8\xff" + b"\x00" * (8 << 20))
    (tmp_path / "spool").mkdir()
    with PackageFiles(package) as files:
        path, _, size = files.copy_out("media/huge.jpg", tmp_path / "spool", max_bytes=1 << 20)
    assert size == (1 << 20) + 1 and path.stat().st_size == size  # one byte over: enough to refuse it


async def test_exif_data_cannot_point_retention_at_another_projects_objects(
    db: asyncpg.Pool, project: int, tmp_path: Path
) -> None:
    other = await accounts.add_project(db, "other", by="test")
    objects = FilesystemObjectStore(tmp_path / "objects")
    victim = f"originals/{other}/ab/{'ab' * 32}.jpg"
    await objects.put_bytes(victim, jpeg(7))
    directory = example_dir(tmp_path / "example", with_media=True)
    exif = {"video": {"keyframes": [{"key": victim, "offset_s": 0.0}]}, "Make": "Reconyx"}
    change_media(directory, {"7ab33b3a": {"exifData": json.dumps(exif)}})

    await run(db, objects, directory, project)

    stored = await db.fetchval("SELECT exif FROM images WHERE original_name = '20210531082538-RCNX0031.JPG'")
    assert stored["Make"] == "Reconyx" and victim not in json.dumps(stored)
    # even so, a blank photo of this project that retention deletes takes only its own objects with it
    await db.execute(
        "UPDATE images SET labels = '{}', exif = $2, received_at = now() - interval '30 days' WHERE project_id = $1",
        project,
        exif,
    )
    await set_rules(db, "mica", by="test", blank_days=1)
    report = await apply_retention(db, objects, datetime.now(UTC) + timedelta(seconds=1), dry_run=False)
    assert report.images == 10
    assert await objects.exists(victim)


async def test_an_endless_csv_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    package = tmp_path / "long.zip"
    with zipfile.ZipFile(package, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("datapackage.json", "{}")
        archive.writestr("deployments.csv", "deploymentID,locationName\n1," + "a" * (MAX_LINE + 10) + "\n")
    with PackageFiles(package) as files, pytest.raises(PackageError, match=r"deployments\.csv line 2: longer than"):
        list(files.rows("deployments.csv"))


async def test_deeply_nested_json_is_a_package_error(tmp_path: Path) -> None:
    package = tmp_path / "deep"
    package.mkdir()
    (package / "datapackage.json").write_text("[" * 200_000)
    with PackageFiles(package) as files, pytest.raises(PackageError, match=r"datapackage\.json is not JSON"):
        files.descriptor()


async def test_exif_data_nested_deeply_is_kept_as_text(db: asyncpg.Pool, project: int, tmp_path: Path) -> None:
    directory = example_dir(tmp_path / "example", with_media=True)
    change_media(directory, {"7ab33b3a": {"exifData": "[" * 100_000}})
    tally = await run(db, FilesystemObjectStore(tmp_path / "objects"), directory, project)
    assert tally.media_imported == 10


async def test_a_symlink_out_of_a_directory_package_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("deploymentID\nroot:x:0:0\n")
    package = tmp_path / "package"
    package.mkdir()
    (package / "datapackage.json").write_text("{}")
    (package / "deployments.csv").symlink_to(secret)
    with PackageFiles(package) as files, pytest.raises(PackageError, match="not a path inside the package"):
        list(files.rows("deployments.csv"))


async def test_classified_by_a_member_who_may_not_verify_is_only_a_note(
    db: asyncpg.Pool, project: int, tmp_path: Path
) -> None:
    await accounts.add_user(
        db, "viewer@example.org", hash_password("p"), role=accounts.Role.VIEWER, project="mica", by="test"
    )
    directory = example_dir(tmp_path / "example", with_media=True)
    with (directory / "observations.csv").open(newline="") as file:
        header = next(csv.reader(file))
    row = {name: "" for name in header} | {
        "observationID": "mine-1", "deploymentID": "62c200a9", "mediaID": "7ab33b3a",
        "eventStart": "2021-04-11T19:43:09Z", "eventEnd": "2021-04-11T19:43:09Z", "observationLevel": "media",
        "observationType": "blank", "classificationMethod": "human", "classifiedBy": "viewer@example.org",
    }  # fmt: skip
    with (directory / "observations.csv").open("a", newline="") as file:
        csv.DictWriter(file, header).writerow(row)

    await run(db, FilesystemObjectStore(tmp_path / "objects"), directory, project)

    verified = await db.fetchrow("SELECT verified_by, notes FROM verifications")
    assert verified["verified_by"] == await accounts.user_id(db, "admin@example.org")
    assert verified["notes"] == "classified by viewer@example.org"


def test_the_example_jpeg_is_sound() -> None:  # the bomb above is this photo with another header
    assert Image.open(io.BytesIO(jpeg(1))).size == (64, 48)
