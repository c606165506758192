"""Real JPEGs with real EXIF (written by pyexiv2), shaped like what each camera family sends.

See /work/shared/CAMERAS.md. Plain functions, for any test that needs a camera's photo.

pyexiv2 writes a tag of type Undefined (MakerNote) only as decimal bytes ("65 66 67"); any other
text is stored as an empty value. ``undefined_value`` does that conversion.
"""

from __future__ import annotations

import functools
import json
import random
import struct
from collections.abc import Mapping
from datetime import datetime, timedelta
from io import BytesIO

import pyexiv2
from PIL import Image, ImageDraw

WILLFINE_SERIAL = "861234567890123"  # a Willfine's serial is its modem's IMEI
SWIFT_IMEI = "861234567890124"
RECONYX_SERIAL = "H2C0123456"
BROWNING_SERIAL = "BTC6PX-000421"
INSTAR_PATH = "INSTAR/lat52.02368_lon12.98290/A_2026-04-09_16-04-05.jpeg"


def blank_jpeg(width: int = 64, height: int = 48) -> bytes:
    """A JPEG without any metadata (as INSTAR cameras send)."""
    buffer = BytesIO()
    Image.new("RGB", (width, height), (40, 90, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def noisy_jpeg(width: int = 320, height: int = 240, *, progressive: bool = False) -> bytes:
    """A JPEG whose scan data is most of the file (noise compresses badly), so a cut lands inside it."""
    pixels = random.Random(7).randbytes(width * height * 3)
    buffer = BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(buffer, "JPEG", progressive=progressive)
    return buffer.getvalue()


def claiming_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its SOF0 header patched to claim ``width`` x ``height``: a bomb, built in bytes."""
    sof = jpeg.index(b"\xff\xc0")  # marker, length (2), precision (1), then height and width
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


def with_exif(jpeg: bytes, tags: Mapping[str, str], *, encoding: str = "utf-8") -> bytes:
    with pyexiv2.ImageData(jpeg) as image:
        image.modify_exif(dict(tags), encoding=encoding)
        return bytes(image.get_bytes())


def jpeg_with_exif(tags: Mapping[str, str], *, width: int = 64, height: int = 48) -> bytes:
    return with_exif(blank_jpeg(width, height), tags)


def with_comment(jpeg: bytes, comment: str) -> bytes:
    with pyexiv2.ImageData(jpeg) as image:
        image.modify_comment(comment)
        return bytes(image.get_bytes())


def undefined_value(data: bytes) -> str:
    return " ".join(str(byte) for byte in data)


def gps_tags(latitude: float, longitude: float) -> dict[str, str]:
    """GPS as cameras write it: degrees, minutes and seconds as rationals, hemisphere in the Ref."""
    return {
        "Exif.GPSInfo.GPSLatitudeRef": "N" if latitude >= 0 else "S",
        "Exif.GPSInfo.GPSLatitude": _rational_dms(abs(latitude)),
        "Exif.GPSInfo.GPSLongitudeRef": "E" if longitude >= 0 else "W",
        "Exif.GPSInfo.GPSLongitude": _rational_dms(abs(longitude)),
    }


def _rational_dms(degrees: float) -> str:
    whole = int(degrees)
    minutes = int((degrees - whole) * 60)
    centiseconds = round(((degrees - whole) * 60 - minutes) * 60 * 100)
    return f"{whole}/1 {minutes}/1 {centiseconds}/100"


def reconyx_hyperfire2_maker_note(serial: str) -> bytes:
    """A HyperFire 2 maker note: "RECONYXH2" header, serial as UTF-16LE at byte 0x7e (ExifTool)."""
    note = bytearray(0x7E + 30 + 16)
    note[:10] = b"RECONYXH2\x00"
    note[0x68 : 0x68 + 9] = b"TRAIL 07\x00"  # the user label, which must not be taken for the serial
    encoded = serial.encode("utf-16-le")[:30]
    note[0x7E : 0x7E + len(encoded)] = encoded
    return bytes(note)


def browning_maker_note(serial: str) -> bytes:
    return json.dumps({"model": "BTC-6PX", "serial_number": serial, "firmware": "2.3.1"}).encode()


def willfine_jpeg(
    *,
    serial: str = WILLFINE_SERIAL,
    taken: str = "2025:12:05 15:46:47",
    latitude: float = 52.098737,
    longitude: float = 5.125504,
) -> bytes:
    """Willfine 4.0T CG: serial in EXIF, local time without offset, EXIF GPS."""
    return jpeg_with_exif(
        {
            "Exif.Image.Make": "Willfine",
            "Exif.Image.Model": "4.0T CG",
            "Exif.Photo.BodySerialNumber": serial,
            "Exif.Photo.DateTimeOriginal": taken,
            "Exif.Photo.PixelXDimension": "64",
            "Exif.Photo.PixelYDimension": "48",
            **gps_tags(latitude, longitude),
        }
    )


def swift_enduro_jpeg(*, taken: str = "2025:12:05 15:46:47") -> bytes:
    """Swift Enduro 4.0PCG-R: no serial in EXIF (its IMEI is in the file name), EXIF GPS."""
    return jpeg_with_exif(
        {
            "Exif.Image.Make": "SY",
            "Exif.Image.Model": "4.0PCG-R",
            "Exif.Photo.DateTimeOriginal": taken,
            **gps_tags(-32.935, 117.16),
        }
    )


def swift_enduro_filename(imei: str = SWIFT_IMEI) -> str:
    return f"{imei}_20251205154647_0001.JPG"


def reconyx_jpeg(*, serial: str = RECONYX_SERIAL, taken: str = "2025:06:14 05:12:09") -> bytes:
    """Reconyx HyperFire 2: serial only in the binary maker note, no GPS."""
    return jpeg_with_exif(
        {
            "Exif.Image.Make": "RECONYX",
            "Exif.Image.Model": "HYPERFIRE 2 COVERT",
            "Exif.Photo.DateTimeOriginal": taken,
            "Exif.Photo.MakerNote": undefined_value(reconyx_hyperfire2_maker_note(serial)),
        }
    )


def browning_jpeg(*, serial: str = BROWNING_SERIAL, taken: str = "2025:06:14 05:12:09") -> bytes:
    """Browning BTC-6PX: JSON text in the maker note, no GPS."""
    return jpeg_with_exif(
        {
            "Exif.Image.Make": "Browning",
            "Exif.Image.Model": "BTC-6PX",
            "Exif.Photo.DateTimeOriginal": taken,
            "Exif.Photo.MakerNote": undefined_value(browning_maker_note(serial)),
        }
    )


def bushnell_jpeg(*, taken: str = "2025:06:14 05:12:09") -> bytes:
    """A Bushnell that leaves Make empty and writes no serial: only a model and the time."""
    return jpeg_with_exif({"Exif.Image.Make": "", "Exif.Image.Model": "119949C", "Exif.Photo.DateTimeOriginal": taken})


TRAIL_SIZE = (1920, 1080)
TRAIL_FIRST_TAKEN = "2025-06-01T06:00:00"


@functools.cache
def _trail_scene(size: tuple[int, int]) -> Image.Image:
    """A smooth scene with coarse texture: compresses to ~540 KB at 1080p, like a real trail-camera photo."""
    width, height = size
    sky = Image.linear_gradient("L").resize(size)
    texture = Image.effect_noise((width // 4, height // 4), 40).resize(size)
    colour = Image.merge("RGB", (sky, texture, sky.point(lambda value: 255 - value)))
    return Image.blend(colour, texture.convert("RGB"), 0.5)


def trail_photo(index: int, cameras: int, *, size: tuple[int, int] = TRAIL_SIZE) -> tuple[str, bytes]:
    """Photo ``index`` of camera ``index % cameras``: a real-size Willfine JPEG with a unique pixel block
    (so every SHA-256 differs), its own serial, DateTimeOriginal 30 s apart and GPS jittered by metres.
    Returns (file name as the camera names it, bytes)."""
    camera, shot = index % cameras, index // cameras
    serial = f"8612345678{camera:05d}"
    image = _trail_scene(size).copy()
    width, height = size
    noise = random.Random(index).randbytes(64 * 64 * 3)
    image.paste(Image.frombytes("RGB", (64, 64), noise), (shot * 64 % width, camera * 64 % height))
    ImageDraw.Draw(image).text((20, height - 40), f"{serial} #{shot:06d}", fill=(255, 255, 255))
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=85)
    jitter = random.Random(-index)
    taken = datetime.fromisoformat(TRAIL_FIRST_TAKEN) + timedelta(seconds=30 * shot)
    tags = {
        "Exif.Image.Make": "Willfine",
        "Exif.Image.Model": "4.0T CG",
        "Exif.Photo.BodySerialNumber": serial,
        "Exif.Photo.DateTimeOriginal": taken.strftime("%Y:%m:%d %H:%M:%S"),
        "Exif.Photo.PixelXDimension": str(width),
        "Exif.Photo.PixelYDimension": str(height),
        **gps_tags(52.0 + camera * 0.01 + jitter.uniform(-4e-5, 4e-5), 5.1 + jitter.uniform(-6e-5, 6e-5)),
    }
    return f"{serial}_{shot:06d}.JPG", with_exif(buffer.getvalue(), tags)
