"""The ingestor against a real database and object store: every file ends stored, rejected or as a report.

Files go through the spool and the ingestor (``intake.ingest``); the assertions read the rows the
ingestor wrote (images, cameras, sites, deployments, camera_updates, camera_health_reports) and the
files it left under ``objects/``.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import os
import random
import time
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import av
import pytest
from PIL import Image

from addax.actors.ingestor import Ingestor, Outcome
from addax.domain.intake import Arrival
from addax.runtime import Supervisor
from addax.store.object_fs import FilesystemObjectStore
from addax.store.objects import original_key
from tests.actors.conftest import Intake
from tests.domain import jpeg_factory, report_samples
from tests.domain.jpeg_factory import RECONYX_SERIAL, SWIFT_IMEI, WILLFINE_SERIAL, claiming_size, noisy_jpeg
from tests.waiting import eventually

# ---------------------------------------------------------------------------------------------
# Helpers: places, files, and the rows the ingestor writes
# ---------------------------------------------------------------------------------------------

HOME = (52.098737, 5.125504)  # where the Willfine of CAMERAS.md stands
METRES_PER_DEGREE = 111_195.0  # along a meridian, on the sphere that addax.domain.sites uses

WILLFINE_REPORT, SWIFT_REPORT = report_samples.WILLFINE, report_samples.SWIFT_ENDURO


def moved(origin: tuple[float, float], *, north_m: float = 0.0, east_m: float = 0.0) -> tuple[float, float]:
    """The point ``north_m`` north and ``east_m`` east of ``origin``."""
    latitude, longitude = origin
    return (
        latitude + north_m / METRES_PER_DEGREE,
        longitude + east_m / (METRES_PER_DEGREE * math.cos(math.radians(latitude))),
    )


def willfine_at(
    where: tuple[float, float], day: str, *, time: str = "12:00:00", serial: str = WILLFINE_SERIAL
) -> bytes:
    """A Willfine photo taken at ``where`` on ``day`` ("2025:12:01") at ``time``."""
    return jpeg_factory.willfine_jpeg(serial=serial, taken=f"{day} {time}", latitude=where[0], longitude=where[1])


def first_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buffer, "PNG")
    return buffer.getvalue()


def zip_archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("IMG_0001.JPG", jpeg_factory.blank_jpeg())
    return buffer.getvalue()


def tiny_mp4(frames: int = 10) -> bytes:
    """A real MPEG-4 video of ``frames`` 64x48 frames at 10 frames per second."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_image(Image.new("RGB", (64, 48), (index * 20, 90, 30)))
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():  # flush the encoder
            container.mux(packet)
    return buffer.getvalue()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def objects_dir(intake: Intake) -> Path:
    return intake.data_dir / "objects"


def stored_files(intake: Intake, under: str) -> list[Path]:
    return [path for path in (objects_dir(intake) / under).rglob("*") if path.is_file()]


def spool_is_empty(intake: Intake) -> bool:
    return not list(intake.spool.directory.iterdir())


async def set_project(intake: Intake, **settings: Any) -> None:
    """Change project settings (column names are the test's own, never input)."""
    for column, value in settings.items():
        await intake.pool.execute(f"UPDATE projects SET {column} = $2 WHERE id = $1", intake.project_id, value)


async def image(intake: Intake, image_id: int | None) -> asyncpg.Record:
    row = await intake.pool.fetchrow(
        "SELECT *, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon FROM images WHERE id = $1",
        image_id,
    )
    assert row is not None
    return row


async def camera(intake: Intake, identity: str) -> asyncpg.Record:
    row = await intake.pool.fetchrow(
        """SELECT *, ST_Y(last_location::geometry) AS lat, ST_X(last_location::geometry) AS lon
           FROM cameras WHERE project_id = $1 AND identity = $2""",
        intake.project_id,
        identity,
    )
    assert row is not None, f"no camera {identity!r}"
    return row


async def camera_count(intake: Intake) -> int:
    return int(await intake.pool.fetchval("SELECT count(*) FROM cameras WHERE project_id = $1", intake.project_id))


async def update_kinds(intake: Intake, camera_id: int | None) -> list[str]:
    rows = await intake.pool.fetch("SELECT kind FROM camera_updates WHERE camera_id = $1 ORDER BY id", camera_id)
    return [row["kind"] for row in rows]


async def deployments(intake: Intake, camera_id: int | None) -> list[asyncpg.Record]:
    return await intake.pool.fetch(
        "SELECT id, site_id, starts_on, ends_on FROM deployments WHERE camera_id = $1 ORDER BY starts_on, id",
        camera_id,
    )


async def sites(intake: Intake) -> list[asyncpg.Record]:
    return await intake.pool.fetch(
        "SELECT id, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon FROM sites"
        " WHERE project_id = $1 ORDER BY id",
        intake.project_id,
    )


async def health_reports(intake: Intake, camera_id: int | None) -> list[asyncpg.Record]:
    return await intake.pool.fetch(
        """SELECT *, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon
           FROM camera_health_reports WHERE camera_id = $1 ORDER BY report_date""",
        camera_id,
    )


async def ingest_all(intake: Intake, files: list[tuple[str, bytes]]) -> list[Outcome]:
    return [await intake.ingest(name, data) for name, data in files]


async def assert_rejected(intake: Intake, outcome: Outcome, data: bytes, reason: str, extension: str) -> asyncpg.Record:
    """The file is kept under rejected/<reason>/ and has one row saying why; nothing reached originals/."""
    assert (outcome.kind, outcome.reason) == ("rejected", reason)
    rows = await intake.images()
    assert [row["id"] for row in rows] == [outcome.image_id]
    row = rows[0]
    assert (row["stage"], row["reject_reason"]) == ("rejected", reason)
    assert row["original_key"] == f"rejected/{reason}/{intake.project_id}/{sha256_hex(data)}.{extension}"
    assert row["sha256"] == hashlib.sha256(data).digest() and row["size_bytes"] == len(data)
    assert row["exif"]["reject_detail"]
    assert (objects_dir(intake) / row["original_key"]).read_bytes() == data
    assert stored_files(intake, "originals") == []
    assert spool_is_empty(intake)
    return row


def fresh_ingestor(intake: Intake) -> Ingestor:
    """A second ingestor on the same spool and object store, as after a restart of the process."""
    return Ingestor(
        pool=intake.pool,
        spool=intake.spool,
        objects=FilesystemObjectStore(objects_dir(intake)),
        max_file_mb=5,
        sweep_every_s=0.05,
    )


def leave_in_spool(intake: Intake, name: str, data: bytes) -> Arrival:
    """Commit a file to the spool as an arrival path does, but hand it to no ingestor (the crash)."""
    partial = intake.spool.new_partial()
    partial.write(data)
    arrival = intake.origin(name).arrived(partial.id)
    intake.spool.commit(partial, arrival)
    intake.spool.release(arrival)  # the process that held it is gone
    return arrival


async def restart_ingestor(intake: Intake) -> Ingestor:
    """Start a new ingestor under its own supervisor, let it re-send the spool, and stop it when drained."""
    ingestor = fresh_ingestor(intake)

    async def drained() -> bool:
        return spool_is_empty(intake)

    async with Supervisor(stop_timeout=10) as supervisor:
        await supervisor.start(ingestor)
        await eventually(drained)
    return ingestor


# ---------------------------------------------------------------------------------------------
# Rejections: each reason keeps the file under objects/rejected/<reason>/ with a 'rejected' row
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "build", "reason", "extension"),
    [
        pytest.param(
            "IMG_0001.JPG",
            lambda: b"\xff\xd8\xff\xe0" + random.Random(1).randbytes(2000),
            "corrupt_image",
            "jpg",
            id="jpeg-magic-then-garbage",
        ),
        pytest.param("IMG_0002.JPG", lambda: first_half(noisy_jpeg()), "truncated_image", "jpg", id="jpeg-cut-in-half"),
        pytest.param(
            "IMG_0003.JPG",
            lambda: claiming_size(jpeg_factory.blank_jpeg(), 12_000, 12_000),
            "decompression_bomb",
            "jpg",
            id="bomb-12000x12000",
            marks=pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
        ),
        pytest.param(
            "IMG_0004.JPG",
            lambda: claiming_size(jpeg_factory.blank_jpeg(), 20_000, 20_000),
            "decompression_bomb",
            "jpg",
            id="bomb-20000x20000",
        ),
        pytest.param("IMG_0005.JPG", png, "unsupported_type", "bin", id="png-named-jpg"),
        pytest.param("photos.zip", zip_archive, "unsupported_type", "bin", id="zip"),
        pytest.param(
            "notes.txt",
            lambda: b"Dear ranger,\nplease check the batteries on Monday.\n",
            "unsupported_type",
            "txt",
            id="text-that-is-no-status-report",
        ),
        pytest.param("IMG_0006.JPG", lambda: b"", "empty_file", "bin", id="empty"),
    ],
)
async def test_a_broken_or_foreign_file_is_kept_under_its_reject_reason(
    intake: Intake, name: str, build: Callable[[], bytes], reason: str, extension: str
) -> None:
    data = build()
    outcome = await intake.ingest(name, data)
    row = await assert_rejected(intake, outcome, data, reason, extension)
    assert row["original_name"] == name and row["camera_id"] is None
    assert await camera_count(intake) == 0


async def test_the_same_broken_file_twice_is_one_rejected_row(intake: Intake) -> None:
    garbage = b"\xff\xd8\xff\xe0" + random.Random(2).randbytes(500)
    first = await intake.ingest("IMG_0001.JPG", garbage)
    second = await intake.ingest("IMG_0001.JPG.1", garbage)
    assert (second.kind, second.image_id) == ("duplicate", first.image_id)
    await assert_rejected(intake, first, garbage, "corrupt_image", "jpg")


async def test_a_photo_without_a_time_is_rejected_when_the_project_requires_one(intake: Intake) -> None:
    await set_project(intake, require_timestamp=True)
    photo = jpeg_factory.jpeg_with_exif({"Exif.Image.Make": "Bushnell", "Exif.Image.Model": "119949C"})
    outcome = await intake.ingest("IMG_0001.JPG", photo)
    row = await assert_rejected(intake, outcome, photo, "missing_datetime", "jpg")
    assert row["camera_id"] == outcome.camera_id is not None  # the camera is known, only the photo is refused
    assert "no DateTimeOriginal" in row["exif"]["reject_detail"]


async def test_a_photo_without_a_time_is_stored_undated_when_the_project_does_not_require_one(intake: Intake) -> None:
    outcome = await intake.ingest("IMG_0001.JPG", jpeg_factory.blank_jpeg())
    assert outcome.kind == "stored"
    row = await image(intake, outcome.image_id)
    assert row["stage"] == "stored" and row["taken_at"] is None and row["utc_offset_minutes"] is None


async def test_a_reset_clock_date_is_stored_undated_when_no_time_is_required(intake: Intake) -> None:
    photo = willfine_at(HOME, "2000:01:01", time="00:00:12")
    outcome = await intake.ingest("IMG_0001.JPG", photo)
    assert outcome.kind == "stored"
    row = await image(intake, outcome.image_id)
    assert row["taken_at"] is None
    assert any("reset clock" in problem for problem in row["exif"]["problems"])
    assert (row["lat"], row["lon"]) == pytest.approx(HOME, abs=1e-5)  # the rest of the photo is still used


async def test_a_reset_clock_date_is_rejected_as_missing_when_a_time_is_required(intake: Intake) -> None:
    await set_project(intake, require_timestamp=True)
    photo = willfine_at(HOME, "2000:01:01", time="00:00:12")
    outcome = await intake.ingest("IMG_0001.JPG", photo)
    row = await assert_rejected(intake, outcome, photo, "missing_datetime", "jpg")
    assert "reset clock" in row["exif"]["reject_detail"]
    assert await sites(intake) == []  # a rejected photo does not place its camera


async def test_an_unknown_camera_is_rejected_when_cameras_must_be_registered_first(intake: Intake) -> None:
    await set_project(intake, require_camera_registration=True)
    photo = willfine_at(HOME, "2025:12:01")
    outcome = await intake.ingest("IMG_0001.JPG", photo)
    row = await assert_rejected(intake, outcome, photo, "unknown_camera", "jpg")
    assert WILLFINE_SERIAL in row["exif"]["reject_detail"] and "not approved" in row["exif"]["reject_detail"]
    # The camera is registered (pending) so that an admin can approve it and reprocess its photos.
    status = await intake.pool.fetchval("SELECT status::text FROM cameras WHERE id = $1", outcome.camera_id)
    assert status == "pending" and await camera_count(intake) == 1


async def test_an_approved_camera_is_accepted_when_cameras_must_be_registered_first(intake: Intake) -> None:
    known = await intake.ingest("IMG_0001.JPG", willfine_at(HOME, "2025:12:01"))
    await set_project(intake, require_camera_registration=True)
    await intake.pool.execute("UPDATE cameras SET status = 'active' WHERE id = $1", known.camera_id)
    outcome = await intake.ingest("IMG_0002.JPG", willfine_at(HOME, "2025:12:02"))
    assert outcome.kind == "stored" and outcome.camera_id == known.camera_id
    assert await camera_count(intake) == 1


async def test_a_retired_camera_is_refused(intake: Intake) -> None:
    known = await intake.ingest("IMG_0001.JPG", willfine_at(HOME, "2025:12:01"))
    await intake.pool.execute("UPDATE cameras SET status = 'retired' WHERE id = $1", known.camera_id)
    photo = willfine_at(HOME, "2025:12:02")
    outcome = await intake.ingest("IMG_0002.JPG", photo)
    assert (outcome.kind, outcome.reason) == ("rejected", "unknown_camera")
    row = await intake.pool.fetchrow("SELECT * FROM images WHERE id = $1", outcome.image_id)
    assert row["stage"] == "rejected" and "retired" in row["exif"]["reject_detail"]


# ---------------------------------------------------------------------------------------------
# Dedupe: by content, never by name
# ---------------------------------------------------------------------------------------------


async def test_the_same_bytes_twice_are_one_row_and_the_second_is_a_duplicate(intake: Intake) -> None:
    photo = willfine_at(HOME, "2025:12:01")
    first = await intake.ingest("IMG_0001.JPG", photo)
    second = await intake.ingest("IMG_0001.JPG", photo)
    assert first.kind == "stored"
    assert (second.kind, second.image_id) == ("duplicate", first.image_id)
    assert [row["id"] for row in await intake.images()] == [first.image_id]
    assert len(stored_files(intake, "originals")) == 1
    assert spool_is_empty(intake)


async def test_the_same_bytes_from_four_cameras_at_once_are_stored_once(intake: Intake) -> None:
    photo = willfine_at(HOME, "2025:12:01")
    outcomes = await asyncio.gather(*(intake.ingest(f"IMG_000{n}.JPG", photo) for n in range(4)))
    assert sorted(outcome.kind for outcome in outcomes) == ["duplicate", "duplicate", "duplicate", "stored"]
    assert {outcome.image_id for outcome in outcomes} == {row["id"] for row in await intake.images()}
    assert len(stored_files(intake, "originals")) == 1


async def test_the_same_name_with_other_bytes_is_a_second_photo(intake: Intake) -> None:
    before_reset = willfine_at(HOME, "2025:12:01", time="10:00:00")
    after_reset = willfine_at(HOME, "2025:12:01", time="11:00:00")  # SD card reset: IMG_0001.JPG again
    outcomes = await ingest_all(intake, [("IMG_0001.JPG", before_reset), ("IMG_0001.JPG", after_reset)])
    assert [outcome.kind for outcome in outcomes] == ["stored", "stored"]
    rows = await intake.images()
    assert [row["original_name"] for row in rows] == ["IMG_0001.JPG", "IMG_0001.JPG"]
    assert {(objects_dir(intake) / row["original_key"]).read_bytes() for row in rows} == {before_reset, after_reset}


# ---------------------------------------------------------------------------------------------
# Unknown cameras are registered as pending
# ---------------------------------------------------------------------------------------------


async def test_an_unknown_camera_is_registered_as_pending_with_a_registered_update(intake: Intake) -> None:
    photo = willfine_at(HOME, "2025:12:05", time="15:46:47")
    outcome = await intake.ingest("IMG_0001.JPG", photo)
    assert outcome.kind == "stored"
    registered = await camera(intake, WILLFINE_SERIAL)
    assert registered["id"] == outcome.camera_id
    assert (registered["status"], registered["identity_kind"]) == ("pending", "serial")
    assert (registered["profile"], registered["make"], registered["model"]) == ("willfine", "Willfine", "4.0T CG")
    assert await update_kinds(intake, registered["id"]) == ["registered", "first_placement"]
    details = await intake.pool.fetchval(
        "SELECT details FROM camera_updates WHERE camera_id = $1 AND kind = 'registered'", registered["id"]
    )
    assert (details["identity"], details["identity_kind"]) == (WILLFINE_SERIAL, "serial")
    assert (details["profile"], details["make"], details["model"]) == ("willfine", "Willfine", "4.0T CG")

    row = await image(intake, outcome.image_id)
    assert row["taken_at"] == datetime(2025, 12, 5, 15, 46, 47, tzinfo=UTC)  # project zone UTC, no EXIF offset
    assert row["original_key"] == original_key(intake.project_id, sha256_hex(photo), "jpg")
    assert (objects_dir(intake) / row["original_key"]).read_bytes() == photo
    assert (row["width"], row["height"]) == (64, 48)
    assert spool_is_empty(intake)


async def test_a_known_camera_is_not_registered_again(intake: Intake) -> None:
    outcomes = await ingest_all(
        intake, [(f"IMG_{day:04d}.JPG", willfine_at(HOME, f"2025:12:{day:02d}")) for day in (1, 2, 3)]
    )
    assert {outcome.camera_id for outcome in outcomes} == {outcomes[0].camera_id}
    assert await camera_count(intake) == 1
    assert (await update_kinds(intake, outcomes[0].camera_id)).count("registered") == 1


# ---------------------------------------------------------------------------------------------
# Daily status reports
# ---------------------------------------------------------------------------------------------


async def test_a_willfine_report_is_one_health_row_with_its_values_and_raw_text(intake: Intake) -> None:
    outcome = await intake.ingest("DailyReport.txt", WILLFINE_REPORT.encode())
    assert outcome.kind == "report" and outcome.image_id is None
    assert await intake.images() == []  # a report is camera health, not a photo
    reporter = await camera(intake, WILLFINE_SERIAL)
    assert reporter["id"] == outcome.camera_id and reporter["identity_kind"] == "imei"
    [health] = await health_reports(intake, outcome.camera_id)
    assert health["report_date"] == date(2025, 12, 5)
    assert health["reported_at"] == datetime(2025, 12, 5, 15, 46, 47, tzinfo=UTC)
    assert (health["signal_csq"], health["temperature_c"], health["battery_pct"]) == (15, 24.0, 60)
    assert (health["sd_free_mb"], health["sd_total_mb"]) == (59405, 59628)
    assert (health["pictures_taken"], health["pictures_sent"]) == (8932, 8900)
    assert (health["lat"], health["lon"]) == pytest.approx(HOME)
    assert health["raw"] == WILLFINE_REPORT
    assert spool_is_empty(intake)


async def test_a_swift_enduro_report_is_parsed_into_its_health_row(intake: Intake) -> None:
    outcome = await intake.ingest("DailyReport.txt", SWIFT_REPORT.replace("\n", "\r\n").encode("utf-8-sig"))
    assert outcome.kind == "report"
    assert (await camera(intake, SWIFT_IMEI))["id"] == outcome.camera_id
    [health] = await health_reports(intake, outcome.camera_id)
    assert health["report_date"] == date(2025, 12, 5)
    assert (health["signal_csq"], health["temperature_c"], health["battery_pct"]) == (22, 21.0, 100)
    assert (health["sd_free_mb"], health["sd_total_mb"]) == (14848, 30413)  # GB -> MB
    assert (health["pictures_taken"], health["pictures_sent"]) == (120, 118)
    assert health["lat"] == pytest.approx(-(32 + 56 / 60 + 6 / 3600))
    assert health["lon"] == pytest.approx(117 + 9 / 60 + 36 / 3600)
    assert "Send times:118" in health["raw"]


async def test_a_second_report_on_the_same_day_replaces_the_first(intake: Intake) -> None:
    evening = WILLFINE_REPORT.replace("Battery:60%", "Battery:55%").replace("15:46:47", "21:00:00")
    next_day = WILLFINE_REPORT.replace("Battery:60%", "Battery:50%").replace("05/12/2025", "06/12/2025")
    outcomes = await ingest_all(intake, [("DailyReport.txt", text.encode()) for text in (WILLFINE_REPORT, evening)])
    [health] = await health_reports(intake, outcomes[0].camera_id)
    assert (health["report_date"], health["battery_pct"], health["raw"]) == (date(2025, 12, 5), 55, evening)
    assert health["reported_at"] == datetime(2025, 12, 5, 21, 0, 0, tzinfo=UTC)

    await intake.ingest("DailyReport.txt", next_day.encode())
    rows = await health_reports(intake, outcomes[0].camera_id)
    assert [(row["report_date"], row["battery_pct"]) for row in rows] == [
        (date(2025, 12, 5), 55),
        (date(2025, 12, 6), 50),
    ]
    assert await camera_count(intake) == 1


async def test_a_report_and_photos_with_the_same_number_are_one_camera(intake: Intake) -> None:
    report = await intake.ingest("DailyReport.txt", WILLFINE_REPORT.encode())
    photo = await intake.ingest("IMG_0001.JPG", willfine_at(HOME, "2025:12:05"))
    assert photo.camera_id == report.camera_id
    swift_photo = await intake.ingest(jpeg_factory.swift_enduro_filename(), jpeg_factory.swift_enduro_jpeg())
    swift_report = await intake.ingest("DailyReport.txt", SWIFT_REPORT.encode())
    assert swift_report.camera_id == swift_photo.camera_id != photo.camera_id
    assert await camera_count(intake) == 2
    assert await update_kinds(intake, report.camera_id) == ["registered", "first_placement"]


async def test_gps_in_a_report_never_moves_a_camera(intake: Intake) -> None:
    office = moved(HOME, north_m=40_000)  # reports are sent from wherever the camera is switched on
    placed = await intake.ingest("IMG_0001.JPG", willfine_at(HOME, "2025:12:01"))
    [home_deployment] = await deployments(intake, placed.camera_id)
    for day in (5, 6):  # two far readings in a row would move a camera if they came from photos
        text = WILLFINE_REPORT.replace("05/12/2025", f"{day:02d}/12/2025")
        text = text.replace("GPS:52.098737,5.125504", f"GPS:{office[0]:.6f},{office[1]:.6f}")
        assert (await intake.ingest("DailyReport.txt", text.encode())).kind == "report"
    later = await intake.ingest("IMG_0002.JPG", willfine_at(HOME, "2025:12:07"))

    assert await deployments(intake, placed.camera_id) == [home_deployment]
    assert home_deployment["ends_on"] is None
    assert (await image(intake, later.image_id))["deployment_id"] == home_deployment["id"]
    cam = await camera(intake, WILLFINE_SERIAL)
    assert (cam["lat"], cam["lon"]) == pytest.approx(HOME, abs=1e-5) and cam["candidate_location"] is None
    assert len(await sites(intake)) == 1
    assert await update_kinds(intake, placed.camera_id) == ["registered", "first_placement"]
    assert [row["lat"] for row in await health_reports(intake, placed.camera_id)] == pytest.approx([office[0]] * 2)


async def test_a_report_alone_registers_its_camera_without_a_site(intake: Intake) -> None:
    outcome = await intake.ingest("DailyReport.txt", WILLFINE_REPORT.encode())
    assert await update_kinds(intake, outcome.camera_id) == ["registered"]
    assert (await camera(intake, WILLFINE_SERIAL))["status"] == "pending"
    assert await deployments(intake, outcome.camera_id) == [] and await sites(intake) == []


# ---------------------------------------------------------------------------------------------
# Sites and deployments from the photos' GPS
# ---------------------------------------------------------------------------------------------


async def test_gps_noise_within_200_m_is_one_site_and_one_deployment(intake: Intake) -> None:
    noisy = [
        HOME,
        moved(HOME, north_m=120, east_m=-80),
        moved(HOME, north_m=-150),
        moved(HOME, east_m=190),
        moved(HOME, north_m=-100, east_m=-140),
    ]
    outcomes = await ingest_all(
        intake, [(f"IMG_{n:04d}.JPG", willfine_at(point, f"2025:12:0{n + 1}")) for n, point in enumerate(noisy)]
    )
    [site] = await sites(intake)
    assert (site["lat"], site["lon"]) == pytest.approx(HOME, abs=1e-5)  # the first fix, not an average
    [deployment] = await deployments(intake, outcomes[0].camera_id)
    assert (deployment["site_id"], deployment["starts_on"]) == (site["id"], date(2025, 12, 1))
    assert deployment["ends_on"] is None
    rows = await intake.images()
    assert {(row["deployment_id"], row["site_id"]) for row in rows} == {(deployment["id"], site["id"])}
    assert await update_kinds(intake, outcomes[0].camera_id) == ["registered", "first_placement"]


async def test_one_far_outlier_then_home_again_keeps_one_deployment(intake: Intake) -> None:
    far = moved(HOME, north_m=5_000)
    outcomes = await ingest_all(
        intake,
        [
            ("IMG_0001.JPG", willfine_at(HOME, "2025:12:01")),
            ("IMG_0002.JPG", willfine_at(far, "2025:12:02")),
            ("IMG_0003.JPG", willfine_at(moved(HOME, east_m=30), "2025:12:03")),
        ],
    )
    camera_id = outcomes[0].camera_id
    [deployment] = await deployments(intake, camera_id)
    assert deployment["ends_on"] is None
    [site] = await sites(intake)
    outlier = await image(intake, outcomes[1].image_id)
    assert (outlier["deployment_id"], outlier["site_id"]) == (deployment["id"], site["id"])
    assert (outlier["lat"], outlier["lon"]) == pytest.approx(far, abs=1e-5)  # the photo keeps its own reading
    cam = await camera(intake, WILLFINE_SERIAL)
    assert cam["candidate_location"] is None and cam["candidate_since"] is None  # the outlier was forgotten
    assert await update_kinds(intake, camera_id) == ["registered", "first_placement", "outlier_held"]


async def test_two_far_photos_on_consecutive_days_move_the_camera_to_a_new_deployment(intake: Intake) -> None:
    away = moved(HOME, north_m=3_000)
    outcomes = await ingest_all(
        intake,
        [
            ("IMG_0001.JPG", willfine_at(HOME, "2025:12:01")),
            ("IMG_0002.JPG", willfine_at(moved(HOME, north_m=50), "2025:12:03")),
            ("IMG_0003.JPG", willfine_at(away, "2025:12:05")),
            ("IMG_0004.JPG", willfine_at(moved(away, east_m=40), "2025:12:06")),
        ],
    )
    camera_id = outcomes[0].camera_id
    old, new = await deployments(intake, camera_id)
    home_site, new_site = await sites(intake)
    assert (old["site_id"], old["starts_on"], old["ends_on"]) == (home_site["id"], date(2025, 12, 1), date(2025, 12, 4))
    assert (new["site_id"], new["starts_on"], new["ends_on"]) == (new_site["id"], date(2025, 12, 5), None)
    assert (new_site["lat"], new_site["lon"]) == pytest.approx(moved(away, east_m=20), abs=1e-4)  # between the two

    placed = [(row["deployment_id"], row["site_id"]) for row in await intake.images()]
    assert placed == [(old["id"], home_site["id"])] * 2 + [(new["id"], new_site["id"])] * 2
    assert await update_kinds(intake, camera_id) == ["registered", "first_placement", "outlier_held", "moved"]
    moved_update = await intake.pool.fetchrow(
        "SELECT details FROM camera_updates WHERE camera_id = $1 AND kind = 'moved'", camera_id
    )
    assert moved_update["details"]["site_id"] == new_site["id"]


async def test_a_second_camera_within_250_m_joins_the_first_cameras_site(intake: Intake) -> None:
    first = await intake.ingest("IMG_0001.JPG", willfine_at(HOME, "2025:12:01"))
    second = await intake.ingest(
        "IMG_0001.JPG", willfine_at(moved(HOME, north_m=180, east_m=120), "2025:12:02", serial="861234567890999")
    )
    assert second.camera_id != first.camera_id
    [site] = await sites(intake)
    [first_deployment] = await deployments(intake, first.camera_id)
    [second_deployment] = await deployments(intake, second.camera_id)
    assert first_deployment["site_id"] == second_deployment["site_id"] == site["id"]
    assert first_deployment["id"] != second_deployment["id"]
    assert (await image(intake, second.image_id))["site_id"] == site["id"]
    assert await update_kinds(intake, second.camera_id) == ["registered", "first_placement"]
    placement = await intake.pool.fetchrow(
        "SELECT details FROM camera_updates WHERE camera_id = $1 AND kind = 'first_placement'", second.camera_id
    )
    assert placement["details"]["site_id"] == site["id"] and "joined site" in placement["details"]["summary"]


async def test_a_camera_beyond_250_m_gets_a_site_of_its_own(intake: Intake) -> None:
    first = await intake.ingest("IMG_0001.JPG", willfine_at(HOME, "2025:12:01"))
    second = await intake.ingest(
        "IMG_0001.JPG", willfine_at(moved(HOME, north_m=400), "2025:12:01", serial="861234567890999")
    )
    first_site, second_site = await sites(intake)
    assert (await image(intake, first.image_id))["site_id"] == first_site["id"]
    assert (await image(intake, second.image_id))["site_id"] == second_site["id"]


async def test_a_camera_without_gps_is_stored_and_registered_without_a_site(intake: Intake) -> None:
    burst = [jpeg_factory.reconyx_jpeg(taken=f"2025:06:14 05:12:{second:02d}") for second in (9, 10, 11)]
    outcomes = await ingest_all(intake, [(f"IMG_{n:04d}.JPG", photo) for n, photo in enumerate(burst)])
    assert [outcome.kind for outcome in outcomes] == ["stored"] * 3
    reconyx = await camera(intake, RECONYX_SERIAL)
    assert {outcome.camera_id for outcome in outcomes} == {reconyx["id"]}
    assert (reconyx["profile"], reconyx["status"], reconyx["last_location"]) == ("reconyx", "pending", None)
    rows = await intake.images()
    assert {(row["site_id"], row["deployment_id"], row["location"]) for row in rows} == {(None, None, None)}
    assert [row["taken_at"].second for row in rows] == [9, 10, 11]
    assert await sites(intake) == [] and await deployments(intake, reconyx["id"]) == []
    assert await update_kinds(intake, reconyx["id"]) == ["registered"]


INSTAR_FOLDER, INSTAR_NAME = jpeg_factory.INSTAR_PATH.rsplit("/", 1)


async def test_an_instar_photo_without_exif_is_timed_by_its_file_name(intake: Intake) -> None:
    await set_project(intake, timezone="Europe/Berlin")
    outcome = await intake.ingest(INSTAR_NAME, jpeg_factory.blank_jpeg(), upload_path=INSTAR_FOLDER)
    assert outcome.kind == "stored"
    row = await image(intake, outcome.image_id)
    assert row["taken_at"] == datetime(2026, 4, 9, 14, 4, 5, tzinfo=UTC)  # 16:04:05 CEST
    assert row["utc_offset_minutes"] == 120
    registered = await intake.pool.fetchrow("SELECT * FROM cameras WHERE id = $1", outcome.camera_id)
    assert (registered["identity_kind"], registered["profile"]) == ("path", "instar")


async def test_an_instar_photo_is_named_and_placed_by_its_upload_folder(intake: Intake) -> None:
    outcome = await intake.ingest(INSTAR_NAME, jpeg_factory.blank_jpeg(), upload_path=INSTAR_FOLDER)
    assert outcome.kind == "stored"
    instar = await camera(intake, f"{intake.account}/{INSTAR_FOLDER}")
    assert instar["id"] == outcome.camera_id
    row = await image(intake, outcome.image_id)
    assert (row["lat"], row["lon"]) == pytest.approx((52.02368, 12.98290))
    [site] = await sites(intake)
    assert (site["lat"], site["lon"]) == pytest.approx((52.02368, 12.98290))
    assert row["site_id"] == site["id"] and row["deployment_id"] is not None
    assert await update_kinds(intake, outcome.camera_id) == ["registered", "first_placement"]


# ---------------------------------------------------------------------------------------------
# Video
# ---------------------------------------------------------------------------------------------


async def test_a_video_is_stored_with_its_duration(intake: Intake) -> None:
    video = tiny_mp4()
    outcome = await intake.ingest("VID_0001.MP4", video)
    assert outcome.kind == "stored"
    row = await image(intake, outcome.image_id)
    assert (row["kind"], row["stage"]) == ("video", "stored")
    assert row["exif"]["video"]["duration_s"] == pytest.approx(1.0, abs=0.2)  # 10 frames at 10 fps
    assert (row["exif"]["video"]["width"], row["exif"]["video"]["height"]) == (64, 48)
    assert row["original_key"] == original_key(intake.project_id, sha256_hex(video), "mp4")
    assert (objects_dir(intake) / row["original_key"]).read_bytes() == video


# ---------------------------------------------------------------------------------------------
# Crash safety: what a crash leaves in the spool or the object store ends as exactly one row
# ---------------------------------------------------------------------------------------------


async def test_a_file_left_in_the_spool_is_ingested_once_after_a_restart(intake: Intake) -> None:
    photo = willfine_at(HOME, "2025:12:01")
    leave_in_spool(intake, "IMG_0001.JPG", photo)
    assert await intake.images() == []  # the crash: nobody was told about it

    restarted = await restart_ingestor(intake)
    assert restarted.processed == 1
    [row] = await intake.images()
    assert (row["stage"], row["original_name"]) == ("stored", "IMG_0001.JPG")
    assert (objects_dir(intake) / row["original_key"]).read_bytes() == photo

    again = await restart_ingestor(intake)  # a further restart finds nothing left to do
    assert again.processed == 0 and len(await intake.images()) == 1


async def test_a_file_whose_row_was_written_before_the_crash_is_not_stored_twice(intake: Intake) -> None:
    photo = willfine_at(HOME, "2025:12:01")
    stored = await intake.ingest("IMG_0001.JPG", photo)
    leave_in_spool(intake, "IMG_0001.JPG", photo)  # as if the spool entry had outlived the row's commit

    restarted = await restart_ingestor(intake)
    assert restarted.processed == 1
    assert [row["id"] for row in await intake.images()] == [stored.image_id]
    assert len(stored_files(intake, "originals")) == 1


async def test_an_object_written_before_the_crash_ends_with_exactly_one_row(intake: Intake) -> None:
    photo = willfine_at(HOME, "2025:12:01")
    key = original_key(intake.project_id, sha256_hex(photo), "jpg")
    store = FilesystemObjectStore(objects_dir(intake))
    leave_in_spool(intake, "IMG_0001.JPG", photo)
    path = objects_dir(intake) / key
    path.parent.mkdir(parents=True)
    path.write_bytes(photo)  # the crash came after the object write, before the row
    torn = path.with_name(f".{path.name}.tmp")
    torn.write_bytes(photo[:100])  # and an earlier attempt, an hour ago, left a torn temporary file
    os.utime(torn, (time.time() - 3700, time.time() - 3700))

    restarted = await restart_ingestor(intake)
    assert restarted.processed == 1
    [row] = await intake.images()
    assert (row["original_key"], row["stage"]) == (key, "stored")
    assert await store.read(key) == photo
    assert stored_files(intake, "originals") == [path]  # the torn temporary file is gone


async def test_a_video_gets_one_keyframe_per_five_seconds(intake: Intake) -> None:
    video = tiny_mp4(frames=120)  # 12 s at 10 fps: marks at 0, 5 and 10 s
    outcome = await intake.ingest("VID_0002.MP4", video)
    row = await image(intake, outcome.image_id)
    keyframes = row["exif"]["video"]["keyframes"]
    assert [frame["offset_s"] for frame in keyframes] == pytest.approx([0.0, 5.0, 10.0], abs=0.15)
    for frame in keyframes:
        with Image.open(objects_dir(intake) / frame["key"]) as still:
            assert still.format == "JPEG" and still.size == (64, 48)


async def test_cameras_first_seen_at_the_same_place_at_the_same_moment_share_one_site(intake: Intake) -> None:
    photos = [willfine_at(HOME, "2025:12:01", serial=f"SAME{n}") for n in range(6)]
    outcomes = await asyncio.gather(*(intake.ingest(f"IMG_{n}.JPG", photo) for n, photo in enumerate(photos)))
    assert {outcome.kind for outcome in outcomes} == {"stored"}
    assert len(await sites(intake)) == 1
