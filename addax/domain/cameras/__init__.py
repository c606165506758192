"""Which camera took a photo: camera families (profiles) and the order in which identity is sought.

To add a family, write a module with ``matches`` and ``identify`` and a ``PROFILE``, and list it in
``PROFILES``. The first profile that matches names the family; the identity is then, in this order:

1. the serial in EXIF (Willfine and any camera that writes one): the camera's own word;
2. what the family's profile finds: a maker-note serial (Reconyx, Browning), the IMEI in the file
   name (Swift Enduro), the upload path (INSTAR);
3. a 15-digit IMEI in the file name, whatever the family;
4. the upload account with make and model ("unknown" where empty).
"""

from __future__ import annotations

from collections.abc import Mapping

from addax.domain.cameras import browning, generic, instar, reconyx, swift, willfine
from addax.domain.cameras.common import CameraIdentity, Found, IdentityKind, Profile, UploadedPhoto
from addax.domain.exif import PhotoMetadata

__all__ = ["PROFILES", "CameraIdentity", "Found", "IdentityKind", "Profile", "UploadedPhoto", "identify"]

PROFILES: tuple[Profile, ...] = (
    willfine.PROFILE,
    swift.PROFILE,
    reconyx.PROFILE,
    browning.PROFILE,
    instar.PROFILE,
)


def identify(
    tags: Mapping[str, str],
    metadata: PhotoMetadata,
    *,
    filename: str,
    upload_path: str,
    account: str,
) -> CameraIdentity:
    photo = UploadedPhoto(tags=tags, metadata=metadata, filename=filename, upload_path=upload_path, account=account)
    profile = next((profile for profile in PROFILES if profile.matches(photo)), generic.PROFILE)
    found = (
        generic.exif_serial(photo)
        or profile.identify(photo)
        or generic.imei_in_filename(photo)
        or generic.fallback(photo)
    )
    # A place from the profile (INSTAR's path) goes with its camera; otherwise the photo's EXIF GPS.
    has_place = found.latitude is not None and found.longitude is not None
    return CameraIdentity(
        identity=found.identity,
        kind=found.kind,
        profile=profile.name,
        make=metadata.make,
        model=metadata.model,
        latitude=found.latitude if has_place else metadata.latitude,
        longitude=found.longitude if has_place else metadata.longitude,
        taken_at_local=found.taken_at_local,
    )
