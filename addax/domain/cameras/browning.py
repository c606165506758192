"""Browning (BTC-6PX and others): JSON text in the maker note carries "serial_number"."""

from __future__ import annotations

import re

from addax.domain.cameras.common import Found, Profile, UploadedPhoto
from addax.domain.exif import maker_note

# A pattern rather than json.loads: firmware pads the note with NULs or cuts it short, and a
# cut-off JSON text still names the serial near its start.
_SERIAL = re.compile(r'"serial[ _]?number"\s*:\s*"?\s*([0-9A-Za-z][0-9A-Za-z_.-]{0,63})', re.IGNORECASE)


def matches(photo: UploadedPhoto) -> bool:
    return "browning" in photo.make


def serial_in_maker_note(note: bytes) -> str | None:
    match = _SERIAL.search(note.decode("utf-8", errors="replace"))
    return match.group(1) if match else None


def identify(photo: UploadedPhoto) -> Found | None:
    serial = serial_in_maker_note(maker_note(photo.tags))
    return Found(identity=serial, kind="serial") if serial else None


PROFILE = Profile(name="browning", matches=matches, identify=identify)
