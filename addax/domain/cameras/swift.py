"""Swift Enduro cellular cameras (4.0PCG-R): EXIF Make "SY", the 15-digit IMEI in the file name."""

from __future__ import annotations

from addax.domain.cameras.common import Profile, UploadedPhoto
from addax.domain.cameras.generic import imei_in_filename


def matches(photo: UploadedPhoto) -> bool:
    return photo.make in ("sy", "swift") or "enduro" in photo.model or photo.model.startswith("4.0pcg")


PROFILE = Profile(name="swift", matches=matches, identify=imei_in_filename)
