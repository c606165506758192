"""Willfine cellular cameras (4.0T CG): EXIF Make "Willfine", EXIF serial, local time, EXIF GPS.

The serial is the modem's IMEI, the same number as in the camera's daily report.
"""

from __future__ import annotations

from addax.domain.cameras.common import Profile, UploadedPhoto
from addax.domain.cameras.generic import exif_serial


def matches(photo: UploadedPhoto) -> bool:
    return "willfine" in photo.make


PROFILE = Profile(name="willfine", matches=matches, identify=exif_serial)
