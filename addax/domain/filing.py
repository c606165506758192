"""Where a received file goes: the ingestor's decisions, pure functions of what it has read.

::

    inspection of the bytes ─► reason to refuse? ─► Refusal (kept under rejected/<reason>/)
    status report ─────────► report_filing ─────► whose report, which local day
    photo or video ────────► photo_identity ────► which camera (found or registered by the ingestor)
                             photo_filing ──────► Refusal (camera not approved, no usable time)
                                              └─► PhotoFiling: time, local day, GPS reading

The site and deployment are decided later, in the ingestor's one short transaction, by
``domain.sites.decide`` with the camera's placement read under the project's site lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from addax.domain.cameras import CameraIdentity, identify
from addax.domain.exif import PhotoMetadata, parse_metadata
from addax.domain.intake import Arrival, RejectReason
from addax.domain.media import MediaType
from addax.domain.reports import DailyReport
from addax.domain.sites import Point


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """A project's settings that decide what its intake accepts."""

    project_id: int
    timezone: str
    require_camera_registration: bool
    require_timestamp: bool
    site_radius_m: float


@dataclass(frozen=True, slots=True)
class CameraStanding:
    """What the project knows of a camera that matters for accepting its photos."""

    id: int
    name: str
    status: str  # pending | active | retired
    timezone: str | None


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: RejectReason
    detail: str


@dataclass(frozen=True, slots=True)
class PhotoFiling:
    metadata: PhotoMetadata
    taken_at: datetime | None  # UTC
    utc_offset_minutes: int | None
    taken_on: date  # the camera's local day, which picks the deployment
    reading: Point | None  # where the photo says the camera stood


@dataclass(frozen=True, slots=True)
class ReportFiling:
    identity: CameraIdentity
    day: date
    reported_at: datetime | None


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``, or UTC for a name this machine does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def media_kind(media: MediaType | None) -> str:
    if media in (MediaType.MP4, MediaType.MOV, MediaType.AVI):
        return "video"
    return "report" if media is MediaType.TEXT else "photo"


def photo_identity(
    tags: Mapping[str, str], arrival: Arrival, rules: IntakeRules, *, now: datetime
) -> tuple[PhotoMetadata, CameraIdentity]:
    """The photo's metadata (read in the project's zone) and the camera it names."""
    metadata = parse_metadata(tags, camera_timezone=rules.timezone, now=now)
    identity = identify(
        tags,
        metadata,
        filename=arrival.original_name,
        upload_path=f"{arrival.upload_path}/{arrival.original_name}".lstrip("/"),
        account=arrival.account,
    )
    return metadata, identity


def camera_refusal(camera: CameraStanding, rules: IntakeRules) -> Refusal | None:
    """Why this camera's photos are not accepted, if they are not."""
    if camera.status == "retired":
        return Refusal(RejectReason.UNKNOWN_CAMERA, f"camera {camera.name} is retired")
    if rules.require_camera_registration and camera.status != "active":
        return Refusal(
            RejectReason.UNKNOWN_CAMERA,
            f"camera {camera.name} is not approved in this project (PATCH /api/cameras/{camera.id} status=active)",
        )
    return None


def photo_filing(
    tags: Mapping[str, str],
    metadata: PhotoMetadata,
    identity: CameraIdentity,
    camera: CameraStanding,
    rules: IntakeRules,
    *,
    now: datetime,
) -> Refusal | PhotoFiling:
    refusal = camera_refusal(camera, rules)
    if refusal is not None:
        return refusal
    if camera.timezone and metadata.local_time_source == "camera-timezone":
        metadata = parse_metadata(tags, camera_timezone=camera.timezone, now=now)  # its own clock's zone
    taken_at, offset = metadata.taken_at, metadata.utc_offset_minutes
    if taken_at is None and identity.taken_at_local is not None:  # e.g. the time in an INSTAR file name
        local = identity.taken_at_local.replace(tzinfo=zone(rules.timezone))
        utc_offset = local.utcoffset()
        taken_at = local.astimezone(UTC)
        offset = int(utc_offset.total_seconds() // 60) if utc_offset is not None else None
    if taken_at is None and rules.require_timestamp:
        return Refusal(RejectReason.MISSING_DATETIME, "; ".join(metadata.problems) or "no DateTimeOriginal")
    taken_on = (taken_at + timedelta(minutes=offset or 0)).date() if taken_at else now.date()
    return PhotoFiling(metadata, taken_at, offset, taken_on, _point(identity.latitude, identity.longitude))


def report_filing(report: DailyReport, arrival: Arrival, rules: IntakeRules, *, now: datetime) -> ReportFiling:
    """A status report belongs to the camera of its IMEI (the photos' serial) and to its local day."""
    number = report.imei or report.camera_id
    identity = CameraIdentity(
        identity=number or f"{arrival.account}/reports",
        kind="imei" if report.imei else "fallback",
        profile="status-report",
        make=None,
        model=None,
        latitude=None,
        longitude=None,
        taken_at_local=None,
    )
    local_zone = zone(rules.timezone)
    reported_at = report.reported_at_local.replace(tzinfo=local_zone) if report.reported_at_local else None
    day = reported_at.date() if reported_at else now.astimezone(local_zone).date()
    return ReportFiling(identity, day, reported_at)


def without_nul(value: Any) -> Any:
    """JSON that PostgreSQL accepts: text in jsonb cannot hold NUL, which odd maker notes do."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_nul(item) for item in value]
    return value


def _point(latitude: float | None, longitude: float | None) -> Point | None:
    if latitude is None or longitude is None:
        return None
    try:
        return Point(latitude, longitude)
    except ValueError:
        return None
