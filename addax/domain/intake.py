"""The values that travel from the arrival paths (FTPS, HTTPS, import) to the ingestor."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Source(StrEnum):
    FTP = "ftp"
    HTTP = "http"
    IMPORT = "import"


class RejectReason(StrEnum):
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    CORRUPT_IMAGE = "corrupt_image"
    TRUNCATED_IMAGE = "truncated_image"
    DECOMPRESSION_BOMB = "decompression_bomb"
    MISSING_DATETIME = "missing_datetime"
    UNKNOWN_CAMERA = "unknown_camera"
    EMPTY_FILE = "empty_file"
    INGEST_ERROR = "ingest_error"  # the file made the ingestor fail: kept for an admin to look at and reprocess


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a file comes from, known before its first byte arrives: who sends it, for which project."""

    project_id: int
    source: Source
    original_name: str  # the file's name as the camera sent it
    upload_path: str  # the folder path the camera used (relative to its home), "" if none
    account: str  # upload account, device token name or "import"
    alerts: bool = True  # False for backfills: old photos must not raise real-time alerts

    def arrived(self, spool_id: str) -> Arrival:
        return Arrival(
            id=spool_id,
            project_id=self.project_id,
            source=self.source,
            original_name=self.original_name,
            upload_path=self.upload_path,
            account=self.account,
            alerts=self.alerts,
        )


@dataclass(frozen=True, slots=True)
class Arrival:
    """A complete file waiting in the spool, and where it came from. Made durable before it is sent."""

    id: str  # spool id: the file is spool/<id>.data, this record spool/<id>.json
    project_id: int
    source: Source
    original_name: str  # the file's name as the camera sent it
    upload_path: str  # the folder path the camera used (relative to its home), "" if none
    account: str  # upload account, device token name or "import"
    alerts: bool = True  # False for backfills: old photos must not raise real-time alerts

    def __post_init__(self) -> None:
        # Names come from cameras and devices: no control characters (PostgreSQL refuses NUL in text).
        object.__setattr__(self, "original_name", printable(self.original_name) or "unnamed")
        object.__setattr__(self, "upload_path", printable(self.upload_path))


def printable(text: str) -> str:
    """``text`` without NUL and other control characters."""
    return "".join(character for character in text if character.isprintable())
