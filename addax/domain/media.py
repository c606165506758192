"""What a received file is, decided from its bytes (never its name), and whether a photo is sound."""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image

from addax.domain.intake import RejectReason


class MediaType(StrEnum):
    JPEG = "jpeg"
    MP4 = "mp4"
    MOV = "mov"
    AVI = "avi"
    TEXT = "text"


EXTENSIONS = {
    MediaType.JPEG: "jpg",
    MediaType.MP4: "mp4",
    MediaType.MOV: "mov",
    MediaType.AVI: "avi",
    MediaType.TEXT: "txt",
}
VIDEO_TYPES = {MediaType.MP4, MediaType.MOV, MediaType.AVI}


def sniff(head: bytes) -> MediaType | None:
    """The type of a file from its first bytes (at least 16)."""
    if head.startswith(b"\xff\xd8\xff"):
        return MediaType.JPEG
    if head[4:8] == b"ftyp":
        return MediaType.MOV if head[8:10] == b"qt" else MediaType.MP4
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return MediaType.AVI
    if _looks_like_text(head):
        return MediaType.TEXT
    return None


def _looks_like_text(head: bytes) -> bool:
    sample = head.removeprefix(b"\xef\xbb\xbf")
    if not sample or b"\x00" in sample:
        return False
    printable = sum(1 for byte in sample if byte >= 32 or byte in b"\r\n\t")
    return printable / len(sample) > 0.95


@dataclass(frozen=True, slots=True)
class PhotoCheck:
    width: int | None
    height: int | None
    reason: RejectReason | None
    detail: str = ""


# What Pillow's ImageFile.load says when the decoder asks for more bytes after the file's last one.
_RAN_OUT = "image file is truncated"


def check_jpeg(data: bytes, *, max_pixels: int) -> PhotoCheck:
    """Decode the photo once: a corrupt, truncated or oversized (decompression bomb) JPEG is refused.

    Truncation is decided by the decoder, not by the file's last bytes: it stops at the end marker, so the
    ``FF`` or NUL padding and the data (even a second JPEG) that cameras put after it are never read. It is
    truncated when the decoder runs out of bytes first: the file ends inside a scan, or between the scans
    of a progressive JPEG, or right after the last scan with no end marker at all (libjpeg reads a few
    bytes ahead and needs a marker to stop there, so that file cannot be told from one cut a few bytes
    short). A file cut inside its headers is corrupt: there is no image data to speak of.
    """
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        return PhotoCheck(None, None, RejectReason.DECOMPRESSION_BOMB, str(error))
    except Exception as error:  # Pillow raises many types for garbage input
        return PhotoCheck(None, None, RejectReason.CORRUPT_IMAGE, f"not a readable JPEG: {error}")
    with image:
        width, height = image.size
        if width * height > max_pixels:
            detail = f"{width}x{height} pixels is over the limit of {max_pixels}"
            return PhotoCheck(width, height, RejectReason.DECOMPRESSION_BOMB, detail)
        try:
            # Every byte of the scan is still decoded (so damage is found); only the output is 1/8 size.
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
        except Exception as error:  # the decoder's failures are OSErrors, Pillow's own checks raise others
            if isinstance(error, OSError) and str(error).startswith(_RAN_OUT):
                detail = f"the JPEG ends before its image data does: {error}"
                return PhotoCheck(width, height, RejectReason.TRUNCATED_IMAGE, detail)
            return PhotoCheck(width, height, RejectReason.CORRUPT_IMAGE, f"the JPEG cannot be decoded: {error}")
    return PhotoCheck(width, height, None)
