"""Which camera took a photo, for each family in CAMERAS.md, from real JPEGs through read_tags."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from addax.domain.cameras import PROFILES, CameraIdentity, identify
from addax.domain.cameras.reconyx import serial_in_maker_note
from addax.domain.exif import parse_metadata, read_tags
from tests.domain.jpeg_factory import (
    BROWNING_SERIAL,
    INSTAR_PATH,
    RECONYX_SERIAL,
    SWIFT_IMEI,
    WILLFINE_SERIAL,
    blank_jpeg,
    browning_jpeg,
    bushnell_jpeg,
    jpeg_with_exif,
    reconyx_jpeg,
    swift_enduro_filename,
    swift_enduro_jpeg,
    undefined_value,
    willfine_jpeg,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def camera_of(jpeg: bytes, *, filename: str = "IMG_0001.JPG", upload_path: str = "") -> CameraIdentity:
    return camera_of_tags(read_tags(jpeg), filename=filename, upload_path=upload_path)


def camera_of_tags(tags: Mapping[str, str], *, filename: str, upload_path: str = "") -> CameraIdentity:
    metadata = parse_metadata(tags, camera_timezone="Europe/Amsterdam", now=NOW)
    return identify(tags, metadata, filename=filename, upload_path=upload_path or filename, account="estate-north")


def test_willfine_is_its_exif_serial_with_exif_gps() -> None:
    camera = camera_of(willfine_jpeg())

    assert (camera.identity, camera.kind, camera.profile) == (WILLFINE_SERIAL, "serial", "willfine")
    assert (camera.make, camera.model) == ("Willfine", "4.0T CG")
    assert camera.latitude == pytest.approx(52.098737, abs=1e-5)
    assert camera.taken_at_local is None  # its time is in EXIF


def test_swift_enduro_is_the_imei_in_its_file_name() -> None:
    camera = camera_of(swift_enduro_jpeg(), filename=swift_enduro_filename())

    assert (camera.identity, camera.kind, camera.profile) == (SWIFT_IMEI, "imei", "swift")
    assert camera.longitude == pytest.approx(117.16, abs=1e-5)


@pytest.mark.parametrize(
    ("filename", "imei"),
    [
        (f"IMG_0001_{SWIFT_IMEI}.JPG", SWIFT_IMEI),
        (f"{SWIFT_IMEI}.jpg", SWIFT_IMEI),
        ("E1234567890123456_0001.JPG", None),  # 16 digits: not an IMEI
        ("IMG_20251205_154647.JPG", None),
    ],
)
def test_an_imei_is_exactly_15_digits(filename: str, imei: str | None) -> None:
    camera = camera_of(swift_enduro_jpeg(), filename=filename)

    assert camera.identity == (imei or "estate-north/SY/4.0PCG-R")
    assert camera.profile == "swift"


def test_instar_is_its_upload_path_with_place_and_time_from_the_path() -> None:
    camera = camera_of(blank_jpeg(), filename="A_2026-04-09_16-04-05.jpeg", upload_path=INSTAR_PATH)

    assert camera == CameraIdentity(
        identity="estate-north/INSTAR/lat52.02368_lon12.98290",
        kind="path",
        profile="instar",
        make=None,
        model=None,
        latitude=52.02368,
        longitude=12.9829,
        taken_at_local=datetime(2026, 4, 9, 16, 4, 5),
    )


def test_instar_path_is_read_however_it_is_written() -> None:
    path = "\\INSTAR\\./lat-33.9_lon-18.4//T_2026-13-45_99-00-00.jpeg"
    camera = camera_of(blank_jpeg(), filename="T_2026-13-45_99-00-00.jpeg", upload_path=path)

    assert camera.identity == "estate-north/INSTAR/lat-33.9_lon-18.4"
    assert (camera.latitude, camera.longitude) == (-33.9, -18.4)
    assert camera.taken_at_local is None  # month 13 is no time


@pytest.mark.parametrize("folder", ["lat0_lon0", "lat95.1_lon12.9"])
def test_instar_without_a_usable_place_keeps_its_path_identity(folder: str) -> None:
    camera = camera_of(blank_jpeg(), filename="A.jpeg", upload_path=f"INSTAR/{folder}/A.jpeg")

    assert (camera.kind, camera.profile) == ("path", "instar")
    assert (camera.latitude, camera.longitude) == (None, None)


def test_reconyx_is_the_serial_in_its_maker_note() -> None:
    camera = camera_of(reconyx_jpeg())

    assert (camera.identity, camera.kind, camera.profile) == (RECONYX_SERIAL, "serial", "reconyx")
    assert (camera.latitude, camera.longitude) == (None, None)


def test_reconyx_older_maker_note_layouts() -> None:
    hyperfire = bytearray(b"\x01\xf1" + bytes(0x60))
    hyperfire[0x2A : 0x2A + 12] = "H500ABC".encode("utf-16-le") + b"\x00\x00"
    ultrafire = bytearray(b"RECONYXUF\x00" + bytes(0x70))
    ultrafire[0x4B : 0x4B + 15] = b"UF12345\x00\x00\x00\x00\x00\x00\x00\x00"

    assert serial_in_maker_note(bytes(hyperfire)) == "H500ABC"
    assert serial_in_maker_note(bytes(ultrafire)) == "UF12345"


@pytest.mark.parametrize(
    "note",
    [b"", b"RECONYXH2\x00", b"RECONYXH2\x00" + bytes(range(256)) * 2, b"\xff\xfe\x00garbage"],
    ids=["empty", "header-only", "binary-noise", "unknown-layout"],
)
def test_reconyx_with_an_unreadable_maker_note_falls_back(note: bytes) -> None:
    tags = {
        "Exif.Image.Make": "RECONYX",
        "Exif.Image.Model": "HYPERFIRE 2 COVERT",
        "Exif.Photo.MakerNote": undefined_value(note),
    }
    camera = camera_of_tags(tags, filename="RCNX0001.JPG")

    assert (camera.identity, camera.kind) == ("estate-north/RECONYX/HYPERFIRE 2 COVERT", "fallback")
    assert camera.profile == "reconyx"


def test_browning_is_the_serial_number_in_its_json_maker_note() -> None:
    camera = camera_of(browning_jpeg())

    assert (camera.identity, camera.kind, camera.profile) == (BROWNING_SERIAL, "serial", "browning")


@pytest.mark.parametrize(
    ("note", "identity"),
    [
        (b'{"fw":"1.0","serial_number":"BR-77","model":"BTC-6PX"}\x00\x00\x00', "BR-77"),
        (b'{"Serial_Number": 12345, "fw": "1.0"}', "12345"),
        (b'{"fw":"1.0","serial_number":"BR-88","battery":"8', "BR-88"),  # cut off mid-way
        (b'{"fw":"1.0"}', "estate-north/Browning/BTC-6PX"),
        (bytes(range(256)), "estate-north/Browning/BTC-6PX"),
    ],
    ids=["nul-padded", "number", "truncated", "no-serial", "binary"],
)
def test_browning_maker_note_variants(note: bytes, identity: str) -> None:
    tags = {"Exif.Image.Make": "Browning", "Exif.Image.Model": "BTC-6PX", "Exif.Photo.MakerNote": undefined_value(note)}

    camera = camera_of_tags(tags, filename="IMG_0001.JPG")

    assert (camera.identity, camera.profile) == (identity, "browning")


def test_bushnell_with_empty_make_falls_back_to_account_and_model() -> None:
    camera = camera_of(bushnell_jpeg())

    assert (camera.identity, camera.kind, camera.profile) == ("estate-north/unknown/119949C", "fallback", "generic")
    assert (camera.make, camera.model) == (None, "119949C")


def test_a_photo_without_exif_on_a_plain_path_is_an_unknown_camera_of_its_account() -> None:
    camera = camera_of(blank_jpeg(), filename="IMG_0001.JPG.1", upload_path="IMG_0001.JPG.1")

    assert (camera.identity, camera.kind, camera.profile) == ("estate-north/unknown/unknown", "fallback", "generic")


def test_an_exif_serial_wins_over_an_imei_in_the_file_name() -> None:
    camera = camera_of(willfine_jpeg(), filename=swift_enduro_filename())

    assert (camera.identity, camera.kind) == (WILLFINE_SERIAL, "serial")


def test_any_camera_with_an_exif_serial_is_known_by_it() -> None:
    jpeg = jpeg_with_exif(
        {"Exif.Image.Make": "Prometheus", "Exif.Image.Model": "P1", "Exif.Image.CameraSerialNumber": "PR-0099"}
    )

    camera = camera_of(jpeg)

    assert (camera.identity, camera.kind, camera.profile) == ("PR-0099", "serial", "generic")


def test_an_unknown_camera_with_an_imei_in_its_file_name_is_known_by_it() -> None:
    camera = camera_of(bushnell_jpeg(), filename=swift_enduro_filename())

    assert (camera.identity, camera.kind, camera.profile) == (SWIFT_IMEI, "imei", "generic")


def test_a_slash_in_make_or_model_stays_inside_its_part_of_the_identity() -> None:
    camera = camera_of(jpeg_with_exif({"Exif.Image.Make": "Acme/Outdoor", "Exif.Image.Model": " "}))

    assert camera.identity == "estate-north/Acme_Outdoor/unknown"


def test_odd_input_never_raises() -> None:
    odd_tags = {
        "Exif.Image.Make": "\x00\x00",
        "Exif.Photo.MakerNote": "not decimal bytes",
        "Exif.Photo.BodySerialNumber": "   ",
    }

    camera = camera_of_tags(odd_tags, filename="", upload_path="///")

    assert (camera.identity, camera.kind) == ("estate-north/unknown/unknown", "fallback")


def test_profiles_have_unique_names_and_generic_is_last_resort() -> None:
    names = [profile.name for profile in PROFILES]

    assert len(names) == len(set(names))
    assert "generic" not in names


def test_garbage_tags_file_names_and_paths_never_raise() -> None:
    rng = random.Random(7)
    keys = ["Exif.Photo.DateTimeOriginal", "Exif.Photo.OffsetTimeOriginal", "Exif.GPSInfo.GPSLatitude"]
    keys += ["Exif.GPSInfo.GPSLatitudeRef", "Exif.Image.Make", "Exif.Photo.MakerNote", "Exif.Photo.BodySerialNumber"]
    atoms = ["9" * 400, "2025:12:05 15:46:47", "/0", "/1", "+02:00", "Z", "RECONYX", "Browning", "SY", "82 69", "\x00"]
    atoms += ["INSTAR", "lat1_lon2", "..", "/", "\\", "A_2026-04-09_16-04-05", "861234567890123", " ", "°"]
    for _ in range(2000):
        tags = {rng.choice(keys): "".join(rng.choices(atoms, k=rng.randint(0, 5))) for _ in range(rng.randint(0, 7))}
        name, path = ("".join(rng.choices(atoms, k=rng.randint(0, 6))) for _ in range(2))
        camera_of_tags(tags, filename=name, upload_path=path)  # no exception is the test
