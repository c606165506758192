"""What every camera profile works with: the uploaded photo, and what a profile learns from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from addax.domain.exif import PhotoMetadata

IdentityKind = Literal["serial", "imei", "path", "fallback"]


@dataclass(frozen=True, slots=True)
class UploadedPhoto:
    """One photo as it arrived: its EXIF, and where and by whom it was uploaded.

    ``upload_path`` is relative to the upload account's root and ends with the file name.
    """

    tags: Mapping[str, str]
    metadata: PhotoMetadata
    filename: str
    upload_path: str
    account: str

    @property
    def make(self) -> str:
        return (self.metadata.make or "").casefold()

    @property
    def model(self) -> str:
        return (self.metadata.model or "").casefold()

    @property
    def folders(self) -> tuple[str, ...]:
        """The folders of ``upload_path``, without empty or "." parts (cameras write both)."""
        parts = [part for part in self.upload_path.replace("\\", "/").split("/") if part not in ("", ".")]
        return tuple(parts[:-1])


@dataclass(frozen=True, slots=True)
class Found:
    """What a profile learned: who the camera is and, for cameras without EXIF, when and where."""

    identity: str
    kind: IdentityKind
    latitude: float | None = None
    longitude: float | None = None
    taken_at_local: datetime | None = None  # naive camera-local time, for photos without EXIF time


@dataclass(frozen=True, slots=True)
class Profile:
    """A camera family: how to recognise its photos and how to find the camera's identity in them.

    ``identify`` returns None when this photo lacks what the family normally carries; the generic
    rules (EXIF serial, IMEI in the file name, upload account + make/model) then decide.
    """

    name: str
    matches: Callable[[UploadedPhoto], bool]
    identify: Callable[[UploadedPhoto], Found | None]


@dataclass(frozen=True, slots=True)
class CameraIdentity:
    identity: str
    kind: IdentityKind
    profile: str
    make: str | None
    model: str | None
    latitude: float | None
    longitude: float | None
    taken_at_local: datetime | None
