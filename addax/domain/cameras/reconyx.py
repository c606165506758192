"""Reconyx (HyperFire, HyperFire 2, UltraFire): the serial sits at a fixed place in the maker note.

exiv2 does not decode Reconyx maker notes, so we read the three layouts that ExifTool documents.
"""

from __future__ import annotations

import re

from addax.domain.cameras.common import Found, Profile, UploadedPhoto
from addax.domain.exif import maker_note

# (how the maker note starts, where the serial is, its length in bytes, its encoding)
_LAYOUTS = (
    (b"RECONYXH2\x00", 0x7E, 30, "utf-16-le"),  # HyperFire 2
    (b"RECONYXUF\x00", 0x4B, 15, "ascii"),  # UltraFire
    (b"\x01\xf1", 0x2A, 30, "utf-16-le"),  # HyperFire (HC500, HC600, PC900): version 0xf101
)
_SERIAL = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{2,29}")


def matches(photo: UploadedPhoto) -> bool:
    return "reconyx" in photo.make


def serial_in_maker_note(note: bytes) -> str | None:
    for header, offset, length, encoding in _LAYOUTS:
        if note.startswith(header):
            text = note[offset : offset + length].decode(encoding, errors="replace")
            serial = text.split("\x00", 1)[0].strip()
            return serial if _SERIAL.fullmatch(serial) else None
    return None


def identify(photo: UploadedPhoto) -> Found | None:
    serial = serial_in_maker_note(maker_note(photo.tags))
    return Found(identity=serial, kind="serial") if serial else None


PROFILE = Profile(name="reconyx", matches=matches, identify=identify)
