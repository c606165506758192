"""INSTAR IP cameras: no EXIF; the upload path names the camera and its place, the file name the time.

The path is set in the camera's web UI, e.g. ``INSTAR/lat52.02368_lon12.98290/A_2026-04-09_16-04-05.jpeg``.
"""

from __future__ import annotations

import re
from datetime import datetime

from addax.domain.cameras.common import Found, Profile, UploadedPhoto

_POSITION = re.compile(r"lat(-?\d{1,2}(?:\.\d+)?)_lon(-?\d{1,3}(?:\.\d+)?)", re.IGNORECASE)
_LOCAL_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2})_(\d{2})-(\d{2})-(\d{2})")


def matches(photo: UploadedPhoto) -> bool:
    return any(folder.casefold() == "instar" or _POSITION.fullmatch(folder) for folder in photo.folders)


def position(folders: tuple[str, ...]) -> tuple[float | None, float | None]:
    for folder in folders:
        match = _POSITION.fullmatch(folder)
        if match:
            latitude, longitude = float(match.group(1)), float(match.group(2))
            valid = -90 <= latitude <= 90 and -180 <= longitude <= 180 and (latitude, longitude) != (0, 0)
            return (latitude, longitude) if valid else (None, None)
    return None, None


def local_time(filename: str) -> datetime | None:
    """The camera's local time in a name like ``A_2026-04-09_16-04-05.jpeg``, naive."""
    match = _LOCAL_TIME.search(filename)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def identify(photo: UploadedPhoto) -> Found | None:
    if not photo.folders:
        return None
    latitude, longitude = position(photo.folders)
    return Found(
        # A path is only unique within its upload account.
        identity="/".join((photo.account, *photo.folders)),
        kind="path",
        latitude=latitude,
        longitude=longitude,
        taken_at_local=local_time(photo.filename),
    )


PROFILE = Profile(name="instar", matches=matches, identify=identify)
