"""Field work on cameras: how recently a camera was heard from, which ones need a visit first, and the checks on
what rangers type or upload (tags, maintenance kinds, the reference photo of an install spot)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from PIL import Image, UnidentifiedImageError

RECENT = timedelta(hours=24)
STALE = timedelta(days=7)

LOW_BATTERY_PCT = 20
LOW_SD_FREE_MB = 500
WEAK_SIGNAL_CSQ = 10  # 0..31 on the modem's scale; under ~10 uploads start failing

MAX_TAG_CHARS = 40
MAX_NOTE_CHARS = 2000
MAX_REFERENCE_PHOTO_BYTES = 8 * 1024 * 1024
REFERENCE_PHOTO_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png")}


class Activity(StrEnum):
    """How recently a camera was heard from, as a colour on the map and in the list."""

    RECENT = "recent"  # within 24 hours
    STALE = "stale"  # within 7 days
    SILENT = "silent"  # longer, or never

    @property
    def colour(self) -> str:
        return {"recent": "#2e7d32", "stale": "#f0a020", "silent": "#c62828"}[self.value]


def activity(last_seen: datetime | None, now: datetime) -> Activity:
    if last_seen is None:
        return Activity.SILENT
    age = now - last_seen
    if age < RECENT:
        return Activity.RECENT
    if age < STALE:
        return Activity.STALE
    return Activity.SILENT


@dataclass(frozen=True, slots=True)
class Condition:
    """A camera's last known state: its status, last contact and latest health report (None: not reported)."""

    status: str
    last_seen: datetime | None
    battery_pct: int | None = None
    sd_free_mb: int | None = None
    signal_csq: int | None = None


def problems(camera: Condition, now: datetime) -> list[str]:
    """What needs a ranger's attention, worst first; empty for a healthy camera (or a retired one)."""
    if camera.status == "retired":
        return []
    found = []
    if camera.status == "pending":
        found.append("waiting for approval")
    seen = activity(camera.last_seen, now)
    if seen is Activity.SILENT:
        found.append("never heard from" if camera.last_seen is None else "silent for over a week")
    if camera.battery_pct is not None and camera.battery_pct < LOW_BATTERY_PCT:
        found.append(f"battery {camera.battery_pct}%")
    if camera.sd_free_mb is not None and camera.sd_free_mb < LOW_SD_FREE_MB:
        found.append(f"SD card {camera.sd_free_mb} MB free")
    if seen is Activity.STALE:
        found.append("silent for over a day")
    if camera.signal_csq is not None and camera.signal_csq < WEAK_SIGNAL_CSQ:
        found.append(f"weak signal ({camera.signal_csq})")
    return found


def attention_order(camera: Condition, now: datetime) -> tuple[int, float]:
    """A sort key: cameras with more problems first, then the longest silent; retired ones last."""
    if camera.status == "retired":
        return (1, 0.0)
    silence = (now - camera.last_seen).total_seconds() if camera.last_seen is not None else float("inf")
    return (-len(problems(camera, now)), -silence)


class MaintenanceKind(StrEnum):
    BATTERIES = "batteries"
    SD_CARD = "sd_card"
    MOVED = "moved"
    REPAIRED = "repaired"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"sd_card": "SD card"}.get(self.value, self.value.capitalize())


class FieldWorkError(ValueError):
    """What a ranger entered cannot be kept, in words they can act on."""


def clean_tag(text: str) -> str:
    """A tag as stored: trimmed, inner spaces collapsed, lower case (so "North Ridge" and "north ridge" are one)."""
    tag = " ".join(text.split()).lower()
    if not tag:
        raise FieldWorkError("a tag cannot be empty")
    if len(tag) > MAX_TAG_CHARS:
        raise FieldWorkError(f"a tag has at most {MAX_TAG_CHARS} characters")
    return tag


def clean_note(text: str) -> str:
    note = text.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise FieldWorkError(f"a note has at most {MAX_NOTE_CHARS} characters")
    return note


@dataclass(frozen=True, slots=True)
class ReferencePhoto:
    content_type: str
    extension: str
    width: int
    height: int


def check_reference_photo(data: bytes) -> ReferencePhoto:
    """The upload is a whole JPEG or PNG within the size limit (decoded, not trusted by its name)."""
    if len(data) > MAX_REFERENCE_PHOTO_BYTES:
        raise FieldWorkError(f"the photo is larger than {MAX_REFERENCE_PHOTO_BYTES // (1024 * 1024)} MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            width, height = image.size
            image.load()  # a truncated file fails here, not when someone opens it later
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise FieldWorkError("that is not a JPEG or PNG photo") from None
    if kind not in REFERENCE_PHOTO_TYPES:
        raise FieldWorkError(f"only JPEG or PNG photos, not {kind}")
    content_type, extension = REFERENCE_PHOTO_TYPES[kind]
    return ReferencePhoto(content_type=content_type, extension=extension, width=width, height=height)
