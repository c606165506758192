"""Rules for any camera: its EXIF serial, an IMEI in the file name, else the account and make/model.

Bushnell, Prometheus and many others carry no serial at all; the fallback then names the camera
after the upload account and its make/model, so that two such cameras on one account are one camera
until an admin tells them apart.
"""

from __future__ import annotations

import re

from addax.domain.cameras.common import Found, Profile, UploadedPhoto

# An IMEI is 15 digits; a longer run of digits is something else (a timestamp, a counter).
_IMEI = re.compile(r"(?<!\d)\d{15}(?!\d)")


def exif_serial(photo: UploadedPhoto) -> Found | None:
    serial = photo.metadata.serial
    return Found(identity=serial, kind="serial") if serial else None


def imei_in_filename(photo: UploadedPhoto) -> Found | None:
    match = _IMEI.search(photo.filename)
    return Found(identity=match.group(), kind="imei") if match else None


def fallback(photo: UploadedPhoto) -> Found:
    make, model = (_part(text) for text in (photo.metadata.make, photo.metadata.model))
    return Found(identity=f"{photo.account}/{make}/{model}", kind="fallback")


def _part(text: str | None) -> str:
    # A slash inside a make or model would read as another level of the identity.
    return (text or "").strip().replace("/", "_") or "unknown"


def _any_camera(photo: UploadedPhoto) -> bool:
    return True


PROFILE = Profile(name="generic", matches=_any_camera, identify=exif_serial)
