"""EXIF of a photo held in memory, and what Addax takes from it: when, where, which camera.

``read_tags`` is the only function that touches pyexiv2; ``parse_metadata`` works on plain strings,
so it can be tested and reused (reprocessing, imports) without an image.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyexiv2

# exiv2 reports a damaged but readable block (a bad maker note, a sub-IFD pointer out of bounds) as
# an "error" log entry, which pyexiv2 turns into an exception that throws away every tag; muted, we
# keep what is readable. Warnings would otherwise be printed to stdout, once per odd photo.
pyexiv2.set_log_level(4)

COMMENT_KEY = "Jpeg.Comment"
MAKER_NOTE_KEY = "Exif.Photo.MakerNote"

LocalTimeSource = Literal["exif-offset", "camera-timezone"]

EARLIEST_PLAUSIBLE = datetime(2005, 1, 1, tzinfo=UTC)
LATEST_AFTER_NOW = timedelta(days=1)
MAX_SERIAL_CHARS = 64  # a serial is an identity; a longer text is junk, not a camera

# A time tag and the offset tag that belongs to it, best first.
_TIME_TAGS = (
    ("Exif.Photo.DateTimeOriginal", "Exif.Photo.OffsetTimeOriginal"),
    ("Exif.Photo.DateTimeDigitized", "Exif.Photo.OffsetTimeDigitized"),
    ("Exif.Image.DateTime", "Exif.Photo.OffsetTime"),
)
_SERIAL_TAGS = (
    "Exif.Photo.BodySerialNumber",
    "Exif.Image.CameraSerialNumber",
    "Exif.Image.0xa431",  # BodySerialNumber written in IFD0 instead of the Exif IFD
)
_EXIF_TIME = re.compile(r"\s*(\d{4})[:/-](\d{1,2})[:/-](\d{1,2})[ T]+(\d{1,2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"\s*([+-])(\d{2}):?(\d{2})\s*")


@dataclass(frozen=True, slots=True)
class PhotoMetadata:
    taken_at: datetime | None  # timezone-aware, UTC
    utc_offset_minutes: int | None  # the camera's local offset at taken_at
    local_time_source: LocalTimeSource | None
    latitude: float | None
    longitude: float | None
    make: str | None
    model: str | None
    serial: str | None
    width: int | None
    height: int | None
    problems: tuple[str, ...] = ()


def read_tags(data: bytes) -> dict[str, str]:
    """Every EXIF tag of the image in ``data`` as text; {} when there is none or it cannot be read.

    Undefined-type tags (the maker note among them) come as decimal bytes, "82 69 67 ...": see
    ``maker_note``. A JPEG comment, where there is one, is added under ``COMMENT_KEY``.
    """
    try:
        with pyexiv2.ImageData(data) as image:
            tags = _exif_as_text(image)
            comment = _comment(image)
    except Exception:  # the C++ layer maps every kind of damage to a few exception types
        return {}
    if comment:
        tags[COMMENT_KEY] = comment
    return tags


def maker_note(tags: Mapping[str, str]) -> bytes:
    """The raw maker note (a vendor's own binary or text block), b"" when absent or garbled."""
    try:
        return bytes(int(number) for number in tags.get(MAKER_NOTE_KEY, "").split())
    except ValueError:
        return b""


def parse_metadata(tags: Mapping[str, str], *, camera_timezone: str, now: datetime) -> PhotoMetadata:
    """The facts of one photo; what is missing or implausible is None, with a note in ``problems``.

    ``camera_timezone`` (an IANA zone name) places a local time that carries no EXIF offset.
    """
    problems: list[str] = []
    taken_at, offset_minutes, source = _taken_at(tags, camera_timezone, now, problems)
    latitude, longitude = _position(tags, problems)
    width, height = _size(tags)
    return PhotoMetadata(
        taken_at=taken_at,
        utc_offset_minutes=offset_minutes,
        local_time_source=source,
        latitude=latitude,
        longitude=longitude,
        make=_text(tags, "Exif.Image.Make"),
        model=_text(tags, "Exif.Image.Model"),
        serial=_serial(tags, problems),
        width=width,
        height=height,
        problems=tuple(problems),
    )


def _exif_as_text(image: pyexiv2.ImageData) -> dict[str, str]:
    try:
        raw = image.read_exif()
    except UnicodeDecodeError:
        # Cheap firmware writes Latin-1 or GBK into ASCII tags; Latin-1 decodes any byte, so such a tag
        # comes out garbled at worst, and the other tags are not lost with it.
        raw = image.read_exif(encoding="latin-1")
    # A repeated tag comes as a list of strings.
    return {str(key): value if isinstance(value, str) else ", ".join(map(str, value)) for key, value in raw.items()}


def _comment(image: pyexiv2.ImageData) -> str:
    try:
        return str(image.read_comment()).strip()
    except UnicodeDecodeError:
        return str(image.read_comment(encoding="latin-1")).strip()


def _text(tags: Mapping[str, str], key: str) -> str | None:
    return tags.get(key, "").strip(" \t\r\n\x00") or None


def _taken_at(
    tags: Mapping[str, str], camera_timezone: str, now: datetime, problems: list[str]
) -> tuple[datetime | None, int | None, LocalTimeSource | None]:
    for time_key, offset_key in _TIME_TAGS:
        text = _text(tags, time_key)
        if text is None:
            continue
        name = time_key.rsplit(".", 1)[1]
        local = _local_time(text)
        if local is None:
            problems.append(f"{name} {_shown(text)} is not a valid time")
            continue
        if time_key != _TIME_TAGS[0][0]:
            problems.append(f"used {name} instead of DateTimeOriginal")
        return _placed(local, name, _text(tags, offset_key), camera_timezone, now, problems)
    if not problems:
        problems.append("no DateTimeOriginal")
    return None, None, None


def _local_time(text: str) -> datetime | None:
    match = _EXIF_TIME.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:  # "0000:00:00 00:00:00", month 13, ...
        return None


def _placed(
    local: datetime,
    name: str,
    offset_text: str | None,
    camera_timezone: str,
    now: datetime,
    problems: list[str],
) -> tuple[datetime | None, int | None, LocalTimeSource | None]:
    zone: tzinfo | None = _offset(offset_text) if offset_text else None
    source: LocalTimeSource = "exif-offset"
    if offset_text and zone is None:
        problems.append(f"offset {_shown(offset_text)} is not valid; used the camera's timezone")
    if zone is None:
        zone, source = _zone(camera_timezone, local, problems), "camera-timezone"
    if zone is None:
        return None, None, None
    aware = local.replace(tzinfo=zone)
    taken_at = aware.astimezone(UTC)
    now_utc = now if now.tzinfo else now.replace(tzinfo=UTC)
    if taken_at < EARLIEST_PLAUSIBLE:
        problems.append(f"{name} {local:%Y-%m-%d %H:%M:%S} looks like a reset clock")
        return None, None, None
    if taken_at > now_utc + LATEST_AFTER_NOW:
        problems.append(f"{name} {local:%Y-%m-%d %H:%M:%S} is in the future")
        return None, None, None
    offset = aware.utcoffset() or timedelta()
    return taken_at, int(offset.total_seconds()) // 60, source


def _offset(text: str) -> timezone | None:
    if text.strip().upper() == "Z":
        return UTC
    match = _OFFSET.fullmatch(text)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14) or int(minutes) >= 60:
        return None
    return timezone(-delta if sign == "-" else delta)


def _zone(name: str, local: datetime, problems: list[str]) -> ZoneInfo | None:
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        # Guessing UTC would file every photo hours off; without a time it waits for reprocessing.
        problems.append(f"unknown camera timezone {name!r}")
        return None
    first, second = local.replace(tzinfo=zone), local.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        problems.append(f"local time {local:%Y-%m-%d %H:%M:%S} is ambiguous or skipped at a DST change in {name}")
    return zone


def _position(tags: Mapping[str, str], problems: list[str]) -> tuple[float | None, float | None]:
    if "Exif.GPSInfo.GPSLatitude" not in tags and "Exif.GPSInfo.GPSLongitude" not in tags:
        return None, None
    latitude = _degrees(tags, "Latitude", "N", "S")
    longitude = _degrees(tags, "Longitude", "E", "W")
    if latitude is None or longitude is None:
        problems.append(f"GPS {_gps_text(tags)} is not readable; ignored")
        return None, None
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        problems.append(f"GPS ({latitude:.6f},{longitude:.6f}) is out of range; ignored")
        return None, None
    if latitude == 0 and longitude == 0:
        problems.append("GPS at (0,0) ignored")  # what cameras write when they have no fix
        return None, None
    return round(latitude, 7), round(longitude, 7)


def _degrees(tags: Mapping[str, str], axis: str, positive: str, negative: str) -> float | None:
    """Decimal degrees from "52/1 5/1 5516/100" and its Ref "N"; None when any part is unusable."""
    ref = tags.get(f"Exif.GPSInfo.GPS{axis}Ref", "").strip().upper()[:1]
    parts = tags.get(f"Exif.GPSInfo.GPS{axis}", "").split()
    if ref not in (positive, negative) or not 1 <= len(parts) <= 3:
        return None  # without its Ref a coordinate may be in the wrong hemisphere
    value = 0.0
    for index, part in enumerate(parts):
        numerator, _, denominator = part.partition("/")
        try:
            number = float(numerator) / float(denominator or "1")
        except (ValueError, ZeroDivisionError):
            return None
        if number < 0 or (index > 0 and number >= 60):
            return None
        value += number / 60**index
    return -value if ref == negative else value


def _gps_text(tags: Mapping[str, str]) -> str:
    names = ("LatitudeRef", "Latitude", "LongitudeRef", "Longitude")
    return " ".join(tags.get(f"Exif.GPSInfo.GPS{name}", "?")[:40] for name in names)


def _serial(tags: Mapping[str, str], problems: list[str]) -> str | None:
    # Vendors' own serial tags (Exif.Canon.SerialNumber, ...), never a lens's.
    maker_keys = sorted(
        key for key in tags if key.endswith("SerialNumber") and "Lens" not in key and key not in _SERIAL_TAGS
    )
    for key in (*_SERIAL_TAGS, *maker_keys):
        text = _text(tags, key)
        if text is None:
            continue
        if len(text) > MAX_SERIAL_CHARS or not any(char.isalnum() and char != "0" for char in text):
            problems.append(f"{key.rsplit('.', 1)[1]} {_shown(text)} is not a serial; ignored")
            continue
        return text
    return None


def _size(tags: Mapping[str, str]) -> tuple[int | None, int | None]:
    for width_key, height_key in (
        ("Exif.Photo.PixelXDimension", "Exif.Photo.PixelYDimension"),
        ("Exif.Image.ImageWidth", "Exif.Image.ImageLength"),
    ):
        width, height = _positive_int(tags.get(width_key)), _positive_int(tags.get(height_key))
        if width and height:
            return width, height
    return None, None


def _positive_int(text: str | None) -> int | None:
    try:
        number = int((text or "").strip())
    except ValueError:
        return None
    return number if number > 0 else None


def _shown(text: str) -> str:
    """A tag's text as quoted in a problem note; a note stays short whatever a camera wrote."""
    return repr(text if len(text) <= 40 else text[:40] + "…")
