"""EXIF read from real JPEGs (made with Pillow, tagged with pyexiv2), and the facts taken from it."""

from __future__ import annotations

import struct
from dataclasses import astuple
from datetime import UTC, datetime
from io import BytesIO

import pytest
from PIL import Image

from addax.domain.exif import COMMENT_KEY, PhotoMetadata, maker_note, parse_metadata, read_tags
from tests.domain.jpeg_factory import (
    WILLFINE_SERIAL,
    blank_jpeg,
    browning_jpeg,
    browning_maker_note,
    bushnell_jpeg,
    gps_tags,
    jpeg_with_exif,
    reconyx_hyperfire2_maker_note,
    reconyx_jpeg,
    swift_enduro_jpeg,
    willfine_jpeg,
    with_comment,
    with_exif,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
AMSTERDAM = "Europe/Amsterdam"


def metadata_of(jpeg: bytes, *, camera_timezone: str = AMSTERDAM) -> PhotoMetadata:
    return parse_metadata(read_tags(jpeg), camera_timezone=camera_timezone, now=NOW)


def metadata(tags: dict[str, str], *, camera_timezone: str = AMSTERDAM) -> PhotoMetadata:
    return parse_metadata(tags, camera_timezone=camera_timezone, now=NOW)


# read_tags


def test_read_tags_gives_every_tag_as_text() -> None:
    tags = read_tags(willfine_jpeg())

    assert tags["Exif.Image.Make"] == "Willfine"
    assert tags["Exif.Photo.BodySerialNumber"] == WILLFINE_SERIAL
    assert tags["Exif.GPSInfo.GPSLatitude"] == "52/1 5/1 5545/100"
    assert all(isinstance(value, str) for value in tags.values())


def test_read_tags_of_a_photo_without_exif_is_empty() -> None:
    assert read_tags(blank_jpeg()) == {}


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image at all" * 20, blank_jpeg()[:60], b"\xff\xd8\xff\xe1\x00\x10Exif\x00\x00garbage"],
    ids=["empty", "text", "truncated-jpeg", "broken-exif-segment"],
)
def test_read_tags_never_raises_on_odd_input(data: bytes) -> None:
    assert read_tags(data) == {}


def test_read_tags_of_a_png_without_exif_is_empty() -> None:
    buffer = BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "PNG")
    assert read_tags(buffer.getvalue()) == {}


def test_read_tags_keeps_what_is_readable_in_damaged_exif_and_prints_nothing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    jpeg = _with_broken_exif_pointer(willfine_jpeg())

    tags = read_tags(jpeg)

    assert tags["Exif.Image.Make"] == "Willfine"  # IFD0 survives; the Exif sub-IFD is lost
    assert "Exif.Photo.DateTimeOriginal" not in tags
    assert capfd.readouterr() == ("", "")


def test_read_tags_reads_latin1_text_in_ascii_tags() -> None:
    jpeg = with_exif(blank_jpeg(), {"Exif.Image.Make": "Caméra°"}, encoding="latin-1")
    assert read_tags(jpeg)["Exif.Image.Make"] == "Caméra°"


def test_read_tags_adds_the_jpeg_comment() -> None:
    assert read_tags(with_comment(bushnell_jpeg(), "CAM 4 / 18C"))[COMMENT_KEY] == "CAM 4 / 18C"


def test_maker_note_gives_the_raw_bytes_back() -> None:
    assert maker_note(read_tags(reconyx_jpeg(serial="H2C7"))) == reconyx_hyperfire2_maker_note("H2C7")
    assert maker_note(read_tags(browning_jpeg(serial="B1"))) == browning_maker_note("B1")


@pytest.mark.parametrize("value", ["", "82 69 x", "300 1"])
def test_maker_note_of_garbled_text_is_empty(value: str) -> None:
    assert maker_note({"Exif.Photo.MakerNote": value}) == b""


# parse_metadata: time


def test_local_time_without_offset_uses_the_camera_timezone_in_winter() -> None:
    facts = metadata_of(willfine_jpeg(taken="2025:12:05 15:46:47"))

    assert facts.taken_at == datetime(2025, 12, 5, 14, 46, 47, tzinfo=UTC)
    assert facts.utc_offset_minutes == 60
    assert facts.local_time_source == "camera-timezone"
    assert facts.problems == ()


def test_local_time_without_offset_follows_daylight_saving_time() -> None:
    facts = metadata_of(willfine_jpeg(taken="2025:07:05 15:46:47"))

    assert facts.taken_at == datetime(2025, 7, 5, 13, 46, 47, tzinfo=UTC)
    assert facts.utc_offset_minutes == 120


def test_offset_time_original_wins_over_the_camera_timezone() -> None:
    jpeg = jpeg_with_exif(
        {"Exif.Photo.DateTimeOriginal": "2025:07:05 15:46:47", "Exif.Photo.OffsetTimeOriginal": "+05:30"}
    )

    facts = metadata_of(jpeg)

    assert facts.taken_at == datetime(2025, 7, 5, 10, 16, 47, tzinfo=UTC)
    assert facts.utc_offset_minutes == 330
    assert facts.local_time_source == "exif-offset"


def test_an_invalid_offset_falls_back_to_the_camera_timezone() -> None:
    facts = metadata({"Exif.Photo.DateTimeOriginal": "2025:12:05 15:46:47", "Exif.Photo.OffsetTimeOriginal": "+25:00"})

    assert facts.utc_offset_minutes == 60
    assert facts.local_time_source == "camera-timezone"
    assert "offset '+25:00' is not valid" in facts.problems[0]


def test_a_reset_clock_gives_no_time() -> None:
    facts = metadata_of(willfine_jpeg(taken="2000:01:01 00:03:12"))

    assert facts.taken_at is None
    assert facts.utc_offset_minutes is None
    assert facts.problems == ("DateTimeOriginal 2000-01-01 00:03:12 looks like a reset clock",)


def test_a_time_more_than_a_day_ahead_gives_no_time() -> None:
    facts = metadata({"Exif.Photo.DateTimeOriginal": "2026:05:03 12:00:00"})

    assert facts.taken_at is None
    assert "is in the future" in facts.problems[0]


def test_a_time_a_few_hours_ahead_is_kept() -> None:
    # A camera clock a few hours fast is common; only the absurd is dropped.
    assert metadata({"Exif.Photo.DateTimeOriginal": "2026:05:01 20:00:00"}).taken_at is not None


def test_a_garbled_time_falls_back_to_datetime_with_a_note() -> None:
    facts = metadata(
        {"Exif.Photo.DateTimeOriginal": "0000:00:00 00:00:00", "Exif.Image.DateTime": "2025:12:05 15:46:47"}
    )

    assert facts.taken_at == datetime(2025, 12, 5, 14, 46, 47, tzinfo=UTC)
    assert facts.problems == (
        "DateTimeOriginal '0000:00:00 00:00:00' is not a valid time",
        "used DateTime instead of DateTimeOriginal",
    )


def test_an_ambiguous_local_time_at_the_end_of_dst_is_noted() -> None:
    facts = metadata({"Exif.Photo.DateTimeOriginal": "2025:10:26 02:30:00"})

    assert facts.taken_at == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # the first 02:30, still CEST
    assert "ambiguous or skipped at a DST change" in facts.problems[0]


def test_an_unknown_camera_timezone_gives_no_time() -> None:
    facts = metadata({"Exif.Photo.DateTimeOriginal": "2025:12:05 15:46:47"}, camera_timezone="Mars/Olympus")

    assert facts.taken_at is None
    assert facts.problems == ("unknown camera timezone 'Mars/Olympus'",)


# parse_metadata: place


def test_gps_rationals_become_decimal_degrees() -> None:
    facts = metadata_of(willfine_jpeg(latitude=52.098737, longitude=5.125504))

    assert facts.latitude == pytest.approx(52.098737, abs=1e-5)
    assert facts.longitude == pytest.approx(5.125504, abs=1e-5)


def test_south_and_west_are_negative() -> None:
    facts = metadata(gps_tags(-32.935, -117.16))

    assert facts.latitude == pytest.approx(-32.935, abs=1e-5)
    assert facts.longitude == pytest.approx(-117.16, abs=1e-5)


def test_gps_at_zero_zero_is_ignored() -> None:
    facts = metadata_of(jpeg_with_exif(gps_tags(0, 0)))

    assert (facts.latitude, facts.longitude) == (None, None)
    assert facts.problems == ("no DateTimeOriginal", "GPS at (0,0) ignored")


@pytest.mark.parametrize(
    ("tags", "note"),
    [
        ({**gps_tags(52, 5), "Exif.GPSInfo.GPSLatitude": "95/1 0/1 0/1"}, "out of range"),
        ({**gps_tags(52, 5), "Exif.GPSInfo.GPSLatitude": "52/0 0/0 0/0"}, "not readable"),
        ({**gps_tags(52, 5), "Exif.GPSInfo.GPSLongitude": "5/1 75/1 0/1"}, "not readable"),
        ({**gps_tags(52, 5), "Exif.GPSInfo.GPSLatitudeRef": ""}, "not readable"),
        ({"Exif.GPSInfo.GPSLatitude": "52/1 5/1 0/1"}, "not readable"),
    ],
    ids=["latitude-95", "zero-denominators", "75-minutes", "no-ref", "no-longitude"],
)
def test_unusable_gps_is_ignored_with_a_note(tags: dict[str, str], note: str) -> None:
    facts = metadata(tags)

    assert (facts.latitude, facts.longitude) == (None, None)
    assert note in facts.problems[-1]


# parse_metadata: camera and size


def test_make_and_model_are_stripped_and_empty_make_is_none() -> None:
    facts = metadata_of(bushnell_jpeg())

    assert facts.make is None
    assert facts.model == "119949C"
    assert facts.serial is None
    assert metadata({"Exif.Image.Make": " Willfine \x00", "Exif.Image.Model": "4.0T CG "}).make == "Willfine"


@pytest.mark.parametrize(
    "key", ["Exif.Photo.BodySerialNumber", "Exif.Image.CameraSerialNumber", "Exif.Canon.SerialNumber"]
)
def test_serial_comes_from_any_serial_number_tag(key: str) -> None:
    assert metadata({key: " 12345 "}).serial == "12345"


def test_a_lens_serial_is_not_the_camera_serial() -> None:
    assert metadata({"Exif.Photo.LensSerialNumber": "L-1"}).serial is None


def test_a_placeholder_serial_is_ignored() -> None:
    facts = metadata({"Exif.Photo.BodySerialNumber": "000000", "Exif.Image.CameraSerialNumber": "CAM-7"})

    assert facts.serial == "CAM-7"
    assert "BodySerialNumber '000000' is not a serial; ignored" in facts.problems
    assert metadata({"Exif.Photo.BodySerialNumber": "7" * 65}).serial is None


def test_size_from_pixel_dimensions_or_image_width() -> None:
    assert (metadata_of(willfine_jpeg()).width, metadata_of(willfine_jpeg()).height) == (64, 48)
    facts = metadata({"Exif.Image.ImageWidth": "4000", "Exif.Image.ImageLength": "3000"})
    assert (facts.width, facts.height) == (4000, 3000)
    assert metadata({"Exif.Image.ImageWidth": "wide"}).width is None


def test_each_camera_family_reads_back() -> None:
    swift = metadata_of(swift_enduro_jpeg())
    reconyx = metadata_of(reconyx_jpeg())

    assert (swift.make, swift.model, swift.serial) == ("SY", "4.0PCG-R", None)
    assert swift.latitude == pytest.approx(-32.935, abs=1e-5)
    assert (reconyx.make, reconyx.latitude, reconyx.problems) == ("RECONYX", None, ())


def test_a_photo_without_exif_has_only_a_note() -> None:
    facts = metadata_of(blank_jpeg())

    assert all(value is None for value in astuple(facts)[:-1])
    assert facts.problems == ("no DateTimeOriginal",)


def _with_broken_exif_pointer(jpeg: bytes) -> bytes:
    """Point IFD0's Exif sub-IFD entry far outside the file, as a damaged card write would."""
    tiff = jpeg.index(b"Exif\x00\x00") + 6
    order = "<" if jpeg[tiff : tiff + 2] == b"II" else ">"
    ifd0 = tiff + struct.unpack(order + "I", jpeg[tiff + 4 : tiff + 8])[0]
    broken = bytearray(jpeg)
    for index in range(struct.unpack(order + "H", jpeg[ifd0 : ifd0 + 2])[0]):
        entry = ifd0 + 2 + 12 * index
        if struct.unpack(order + "H", jpeg[entry : entry + 2])[0] == 0x8769:  # ExifTag
            broken[entry + 8 : entry + 12] = struct.pack(order + "I", 0x7FFFFFF0)
    return bytes(broken)
