"""The ingestor: every complete file, from any arrival path, ends stored or rejected, exactly once.

::

    Arrival (file in the spool) ─► inspect (thread) ─► duplicate? ─► done (nothing new)
                                                  ├─► rejected: kept under rejected/<reason>/, row with the reason
                                                  ├─► status report: camera health row for the day
                                                  └─► photo/video: camera (auto-registered), site and deployment,
                                                      original in the object store, row 'stored'
    then the spool entry is removed; a crash before that re-sends it at start-up, and
    the (project, sha256) key makes the second pass a no-op.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from addax.actors.inspection import Inspection, file_digest, inspect_file, keyframes
from addax.domain.cameras import CameraIdentity, identify
from addax.domain.exif import parse_metadata
from addax.domain.intake import Arrival, RejectReason
from addax.domain.media import EXTENSIONS, MediaType
from addax.domain.sites import Point, decide
from addax.runtime import Actor, MailboxClosed
from addax.store import cameras, images, projects
from addax.store.database import DatabaseUnavailable
from addax.store.objects import FilesystemObjectStore, keyframe_key, original_key, rejected_key
from addax.store.spool import Spool

log = logging.getLogger("addax.ingestor")

# Errors of the database connection or the disk, not of the file: retried until they pass.
TRANSIENT = (
    OSError,
    TimeoutError,
    DatabaseUnavailable,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    asyncpg.AdminShutdownError,
)

Publish = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # stored | duplicate | rejected | report
    image_id: int | None = None
    reason: str | None = None
    camera_id: int | None = None


class Ingestor(Actor[Arrival]):
    mailbox_capacity = 256

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        spool: Spool,
        objects: FilesystemObjectStore,
        max_file_mb: int = 50,
        max_pixels: int = 100_000_000,
        workers: int = 4,
        publish: Publish | None = None,
    ) -> None:
        super().__init__(name="ingestor")
        self._pool, self._spool, self._objects = pool, spool, objects
        self._max_bytes, self._max_pixels, self._workers = max_file_mb * 2**20, max_pixels, workers
        self._publish = publish or (lambda event, body: None)
        self.processed = 0
        self._started_once = False
        self._recovered: list[Arrival] = []

    async def on_start(self) -> None:
        # What a crash left between arrival and ingestion, read once per process: after a restart of this
        # actor the spool also holds uploads in progress and files that are already in the mailbox.
        self._recovered = [] if self._started_once else self._spool.recover()
        self._started_once = True
        if self._recovered:
            log.info("re-sending files left in the spool", extra={"actor": self.name, "count": len(self._recovered)})

    async def run(self) -> None:
        # A few workers take turns on the one mailbox: file reads and decoding overlap with database work.
        async with asyncio.TaskGroup() as workers:
            workers.create_task(self._resend(self._recovered))
            for _ in range(self._workers):
                workers.create_task(super().run())

    async def _resend(self, arrivals: list[Arrival]) -> None:
        for arrival in arrivals:
            try:
                await self.send(arrival)
            except MailboxClosed:
                return  # shutting down: the rest stays in the spool for the next start

    async def handle(self, arrival: Arrival) -> None:
        attempt = 0
        while True:
            try:
                await self.ingest(arrival)
                return
            except TRANSIENT as error:
                # The database or the disk is in trouble, not the file: keep trying. Nothing is lost, and
                # the full mailbox slows the cameras down meanwhile.
                attempt += 1
                self.record_error(error)
                log.warning(
                    "ingest failed, will retry",
                    extra={"actor": self.name, "file": arrival.original_name, "attempt": attempt, "error": repr(error)},
                )
                await asyncio.sleep(min(2**attempt, 30))
            except Exception as error:  # the file trips something: it must cost that file, never the actor
                await self._quarantine(arrival, error)
                return

    async def _quarantine(self, arrival: Arrival, error: Exception) -> None:
        """Keep a file that could not be ingested as a rejection with the error, so that it can be reprocessed."""
        log.exception("ingest failed on this file", extra={"actor": self.name, "file": arrival.original_name})
        self.record_error(error)
        try:
            path = self._spool.data_path(arrival)
            sha, size = await asyncio.to_thread(file_digest, path)
            facts = Inspection(sha, size, None)
            async with self._pool.acquire() as connection, connection.transaction():
                await self._reject(connection, arrival, facts, RejectReason.INGEST_ERROR, f"{type(error).__name__}")
            self._spool.discard(arrival)
        except Exception:
            log.exception("could not record the failure; the file stays in the spool", extra={"actor": self.name})

    async def ingest(self, arrival: Arrival) -> Outcome | None:
        path = self._spool.data_path(arrival)
        if not path.exists():
            self._spool.discard(arrival)
            return None
        facts = await asyncio.to_thread(inspect_file, path, max_bytes=self._max_bytes, max_pixels=self._max_pixels)
        async with self._pool.acquire() as connection, connection.transaction():
            # Two copies of the same bytes (a camera re-sending) are taken one after the other.
            await images.lock_content(connection, arrival.project_id, facts.sha256)
            project = await projects.intake_settings(connection, arrival.project_id)
            outcome = await self._file(connection, project, arrival, facts)
        self._spool.discard(arrival)
        self.processed += 1
        log.info(
            "ingested",
            extra={
                "actor": self.name,
                "file": arrival.original_name,
                "outcome": outcome.kind,
                "reason": outcome.reason,
                "image_id": outcome.image_id,
            },
        )
        if outcome.kind in ("stored", "rejected"):
            self._publish(
                "image.received",
                {
                    "id": outcome.image_id,
                    "project_id": arrival.project_id,
                    "stage": outcome.kind,
                    "reason": outcome.reason,
                },
            )
        return outcome

    async def _file(
        self, connection: asyncpg.Connection, project: projects.IntakeSettings, arrival: Arrival, facts: Inspection
    ) -> Outcome:
        existing = await images.find_by_hash(connection, project.id, facts.sha256)
        if existing is not None:
            return Outcome("duplicate", existing)
        if facts.reason is not None:
            return await self._reject(connection, arrival, facts, facts.reason, facts.detail)
        if facts.report is not None:
            return await self._report(connection, project, arrival, facts)
        return await self._media(connection, project, arrival, facts)

    async def _store_keyframes(self, project_id: int, facts: Inspection, path: Path) -> list[dict[str, Any]]:
        """Stills for detection, decoded only for a new video (after the duplicate check)."""
        stored = []
        for offset, jpeg in await asyncio.to_thread(keyframes, path):
            key = keyframe_key(project_id, facts.sha256_hex, offset)
            await asyncio.to_thread(self._objects.put_bytes, key, jpeg)
            stored.append({"offset_s": offset, "key": key})
        return stored

    async def _reject(
        self,
        connection: asyncpg.Connection,
        arrival: Arrival,
        facts: Inspection,
        reason: RejectReason,
        detail: str,
        *,
        camera_id: int | None = None,
    ) -> Outcome:
        extension = EXTENSIONS.get(facts.media, "bin") if facts.media else "bin"
        key = rejected_key(reason, arrival.project_id, facts.sha256_hex, extension)
        await asyncio.to_thread(self._objects.put_file, key, self._spool.data_path(arrival))
        image_id, created = await images.insert(
            connection,
            images.NewImage(
                project_id=arrival.project_id,
                kind=_kind(facts.media),
                sha256=facts.sha256,
                original_name=arrival.original_name,
                source=arrival.source,
                upload_account=arrival.account,
                size_bytes=facts.size,
                original_key=key,
                camera_id=camera_id,
                stage="rejected",
                reject_reason=reason,
                exif=_without_nul({"reject_detail": detail, "upload_path": arrival.upload_path}),
                realtime=arrival.alerts,
            ),
        )
        log.warning(
            "file rejected",
            extra={"actor": self.name, "file": arrival.original_name, "reason": str(reason), "detail": detail},
        )
        return Outcome("rejected" if created else "duplicate", image_id, str(reason), camera_id)

    async def _report(
        self, connection: asyncpg.Connection, project: projects.IntakeSettings, arrival: Arrival, facts: Inspection
    ) -> Outcome:
        report = facts.report
        assert report is not None
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
        camera = await cameras.camera_for(connection, project.id, identity, register=True)
        assert camera is not None
        zone = _zone(project.timezone)
        reported_at = report.reported_at_local.replace(tzinfo=zone) if report.reported_at_local else None
        day = reported_at.date() if reported_at else datetime.now(zone).date()
        await cameras.record_health(
            connection,
            camera.id,
            report,
            report_date=day,
            reported_at=reported_at,
            raw=facts.report_text.replace("\x00", ""),
        )
        return Outcome("report", None, None, camera.id)

    async def _media(
        self, connection: asyncpg.Connection, project: projects.IntakeSettings, arrival: Arrival, facts: Inspection
    ) -> Outcome:
        now = datetime.now(UTC)
        metadata = parse_metadata(facts.tags, camera_timezone=project.timezone, now=now)
        identity = identify(
            facts.tags,
            metadata,
            filename=arrival.original_name,
            upload_path=f"{arrival.upload_path}/{arrival.original_name}".lstrip("/"),
            account=arrival.account,
        )
        # A new camera is always registered (pending), so an admin can approve it and reprocess its photos.
        camera = await cameras.camera_for(connection, project.id, identity, register=True)
        assert camera is not None
        refusal = _camera_refusal(camera, project)
        if refusal is not None:
            return await self._reject(
                connection, arrival, facts, RejectReason.UNKNOWN_CAMERA, refusal, camera_id=camera.id
            )
        if camera.timezone and metadata.local_time_source == "camera-timezone":
            metadata = parse_metadata(facts.tags, camera_timezone=camera.timezone, now=now)  # its own clock's zone
        taken_at, offset = metadata.taken_at, metadata.utc_offset_minutes
        if taken_at is None and identity.taken_at_local is not None:
            local = identity.taken_at_local.replace(tzinfo=_zone(project.timezone))
            taken_at, offset = local.astimezone(UTC), int(local.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
        if taken_at is None and project.require_timestamp:
            return await self._reject(
                connection,
                arrival,
                facts,
                RejectReason.MISSING_DATETIME,
                "; ".join(metadata.problems) or "no DateTimeOriginal",
                camera_id=camera.id,
            )
        taken_on = _local_day(taken_at, offset) if taken_at else now.date()
        # The object first (its key is its content, so writing it twice is harmless), then the short
        # section that decides where the camera stands.
        key = original_key(project.id, facts.sha256_hex, EXTENSIONS[facts.media or MediaType.JPEG])
        await asyncio.to_thread(self._objects.put_file, key, self._spool.data_path(arrival))
        reading = _point(identity.latitude, identity.longitude)
        if reading is not None:  # it may found a site: one such decision per project at a time
            await cameras.lock_sites(connection, project.id)
        decision = decide(
            await cameras.placement(connection, camera.id),
            reading,
            taken_on,
            from_status_report=False,
            sites=await cameras.sites_of(connection, project.id),
            radius_m=project.site_radius_m,
        )
        await cameras.apply(connection, camera, decision)
        deployment_id, site_id = await cameras.deployment_on(connection, camera.id, taken_on)
        exif = {
            "tags": facts.tags,
            "problems": list(metadata.problems),
            "upload_path": arrival.upload_path,
            "identity": identity.identity,
            "profile": identity.profile,
            **(
                {
                    "video": facts.video
                    | {"keyframes": await self._store_keyframes(project.id, facts, self._spool.data_path(arrival))}
                }
                if facts.video
                else {}
            ),
        }
        exif = _without_nul(exif)
        image_id, created = await images.insert(
            connection,
            images.NewImage(
                project_id=project.id,
                kind=_kind(facts.media),
                sha256=facts.sha256,
                original_name=arrival.original_name,
                source=arrival.source,
                realtime=arrival.alerts,
                upload_account=arrival.account,
                size_bytes=facts.size,
                original_key=key,
                camera_id=camera.id,
                deployment_id=deployment_id,
                site_id=site_id,
                width=facts.width or metadata.width or facts.video.get("width"),
                height=facts.height or metadata.height or facts.video.get("height"),
                taken_at=taken_at,
                utc_offset_minutes=offset,
                latitude=reading.latitude if reading else None,
                longitude=reading.longitude if reading else None,
                exif=exif,
            ),
        )
        if created and (camera.created or decision.kind not in cameras.QUIET_DECISIONS):
            self._publish("camera.updated", {"id": camera.id, "project_id": project.id, "change": str(decision.kind)})
        return Outcome("stored" if created else "duplicate", image_id, None, camera.id)


def _camera_refusal(camera: cameras.Camera, project: projects.IntakeSettings) -> str | None:
    """Why this camera's photos are not accepted, if they are not."""
    if camera.status == "retired":
        return f"camera {camera.name} is retired"
    if project.require_camera_registration and camera.status != "active":
        return f"camera {camera.name} is not approved in this project (PATCH /api/cameras/{camera.id} status=active)"
    return None


def _without_nul(value: Any) -> Any:
    """JSON that PostgreSQL accepts: text in jsonb cannot hold NUL, which odd maker notes do."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nul(item) for item in value]
    return value


def _kind(media: MediaType | None) -> str:
    if media in (MediaType.MP4, MediaType.MOV, MediaType.AVI):
        return "video"
    return "report" if media is MediaType.TEXT else "photo"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _local_day(taken_at: datetime, offset_minutes: int | None) -> date:
    return (taken_at + timedelta(minutes=offset_minutes or 0)).date()


def _point(latitude: float | None, longitude: float | None) -> Point | None:
    if latitude is None or longitude is None:
        return None
    try:
        return Point(latitude, longitude)
    except ValueError:
        return None
