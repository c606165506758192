"""What a received file is, decided from its bytes (never its name), and whether a photo is sound."""

from __future__ import annotations

import io
import warnings
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


def check_jpeg(data: bytes, *, max_pixels: int) -> PhotoCheck:
    """Decode the photo fully: a corrupt, truncated or oversized (decompression bomb) JPEG is refused."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
    except Image.DecompressionBombError as error:
        return PhotoCheck(None, None, RejectReason.DECOMPRESSION_BOMB, str(error))
    except Exception as error:  # Pillow raises many types for garbage input
        return PhotoCheck(None, None, RejectReason.CORRUPT_IMAGE, f"not a readable JPEG: {error}")
    if width * height > max_pixels:
        return PhotoCheck(
            width, height, RejectReason.DECOMPRESSION_BOMB, f"{width}x{height} pixels is over the limit of {max_pixels}"
        )
    if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        return PhotoCheck(width, height, RejectReason.TRUNCATED_IMAGE, "the JPEG ends before its end marker")
    try:
        with warnings.catch_warnings(), Image.open(io.BytesIO(data)) as image:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Every byte of the scan is still decoded (so damage is found); only the output is 1/8 size.
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
            image.load()
    except OSError as error:
        return PhotoCheck(width, height, RejectReason.TRUNCATED_IMAGE, f"the JPEG data is incomplete: {error}")
    except Exception as error:
        return PhotoCheck(width, height, RejectReason.CORRUPT_IMAGE, f"the JPEG cannot be decoded: {error}")
    return PhotoCheck(width, height, None)
