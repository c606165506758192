"""The ingestor: every complete file, from any arrival path, ends stored or rejected, exactly once.

In phases, each short, decided before anything is written::

    spool entry ─► inspect (thread) ─► already in the project? ─────────────────────► duplicate, nothing new
                                   ├─► refused by its bytes ───► rejected copy ─► tx: row 'rejected'
                                   ├─► status report ──────────────────────────► tx: camera, health row
                                   └─► photo/video ─► camera found or registered (tx of its own)
                                                      domain.filing decides: refused? (as above) or time, place
                                                      original (+ video keyframes) written
                                                      tx: content, camera and site locks; site decision; row 'stored'
    then the spool entry is removed; a crash before that leaves it for the next sweep, and the
    (project, sha256) key makes the second pass a no-op.

Failures (``handle``): an outage (database unreachable, disk full) is retried until it passes, without
counting against the file; a file that cannot be read is retried a few times; a file that trips an
error is kept at once as a rejection (``ingest_error``) for an admin to look at and reprocess. Attempts
are counted in the spool, so a file that crashes the whole process (a native decoder) is given up too.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from addax.actors.inspection import Inspection, file_digest, inspect_file, keyframes
from addax.domain.filing import (
    IntakeRules,
    PhotoFiling,
    Refusal,
    media_kind,
    photo_filing,
    photo_identity,
    report_filing,
    without_nul,
)
from addax.domain.intake import Arrival, RejectReason
from addax.domain.media import EXTENSIONS, MediaType
from addax.domain.sites import decide
from addax.runtime import Actor, MailboxClosed
from addax.store import cameras, database, images, projects
from addax.store.objects import ObjectStore, ObjectStoreError, keyframe_key, original_key, rejected_key
from addax.store.spool import Spool

log = logging.getLogger("addax.ingestor")

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)

Publish = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # stored | duplicate | rejected | report | set_aside | vanished
    image_id: int | None = None
    reason: str | None = None
    camera_id: int | None = None


Observe = Callable[[Arrival, Outcome], None]


class Ingestor(Actor[Arrival]):
    mailbox_capacity = 256

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        spool: Spool,
        objects: ObjectStore,
        max_file_mb: int = 50,
        max_pixels: int = 100_000_000,
        concurrency: int = 4,
        max_attempts: int = 5,
        retry_delay_s: float = 1.0,
        sweep_every_s: float | None = 30.0,
        publish: Publish | None = None,
        observe: Observe | None = None,
    ) -> None:
        """``sweep_every_s``: how often the spool is searched for entries nobody holds (None: never, for a CLI
        that only ingests what it is given); ``observe`` hears every outcome (a CLI's summary)."""
        super().__init__(name="ingestor")
        self.concurrency = concurrency  # file reads and decoding overlap with database work
        self._pool, self._spool, self._objects = pool, spool, objects
        self._max_bytes, self._max_pixels = max_file_mb * 2**20, max_pixels
        self._max_attempts, self._retry_delay_s, self._sweep_every_s = max_attempts, retry_delay_s, sweep_every_s
        self._publish = publish or (lambda event, body: None)
        self._observe = observe or (lambda arrival, outcome: None)
        self.processed = 0

    async def run(self) -> None:
        if self._sweep_every_s is None:
            await super().run()
            return
        async with asyncio.TaskGroup() as group:
            sweeper = group.create_task(self._sweep_forever(self._sweep_every_s))
            await super().run()  # returns when the mailbox is closed and drained
            sweeper.cancel()

    async def _sweep_forever(self, every_s: float) -> None:
        """Take up what nobody holds: left by a crash, or a delivery whose sender went away meanwhile."""
        while True:
            await asyncio.to_thread(self._spool.clear_leftovers)
            found = await asyncio.to_thread(self._spool.claim_unclaimed)
            if found:
                log.info("taking up files left in the spool", extra={"actor": self.name, "count": len(found)})
            try:
                while found:
                    await self.send(found[0])
                    found.pop(0)
            except MailboxClosed:
                return
            finally:
                for arrival in found:  # not handed over (stopping): someone takes them up later
                    self._spool.release(arrival)
            await asyncio.sleep(every_s)

    async def handle(self, arrival: Arrival) -> None:
        try:
            outcome = await self._handle(arrival)
        finally:
            self._spool.release(arrival)  # a no-op when the entry is done with
        self._observe(arrival, outcome)

    async def _handle(self, arrival: Arrival) -> Outcome:
        delay = self._retry_delay_s
        give_up_because: str | None = None
        while True:
            attempt = self._spool.begin_attempt(arrival)
            if give_up_because is None and attempt.count > self._max_attempts:
                give_up_because = f"gave up after {attempt.count - 1} attempts: {attempt.last_error}"
            try:
                if give_up_because is not None:
                    return await self._give_up(arrival, give_up_because)
                return await self.ingest(arrival)
            except asyncio.CancelledError:
                self._spool.end_attempt(arrival, error="stopped during an attempt", count=attempt.count - 1)
                raise
            except Exception as error:
                self.record_error(error)
                why = f"{type(error).__name__}: {error}"
                count = attempt.count
                if await self._is_outage(error):
                    count -= 1  # retried until it passes, not counted: nothing is lost, cameras slow down
                elif give_up_because is None and not isinstance(error, OSError):
                    # The file trips something (an OSError instead may pass: it is tried a few more times).
                    log.exception(
                        "ingest failed on this file", extra={"actor": self.name, "file": arrival.original_name}
                    )
                    give_up_because, delay = why, 0.0
                self._spool.end_attempt(arrival, error=why, count=count)
                log.warning(
                    "ingest failed, will retry",
                    extra={"actor": self.name, "file": arrival.original_name, "attempt": attempt.count, "error": why},
                )
            await asyncio.sleep(delay)
            delay = min(max(delay, self._retry_delay_s) * 2, 30.0)

    async def _is_outage(self, error: Exception) -> bool:
        """Whether the error says nothing about the file: the database, the disk or the object store is in trouble."""
        if isinstance(error, (*database.OUTAGE_ERRORS, ObjectStoreError)) or (
            isinstance(error, OSError) and error.errno in _DISK_FULL
        ):
            return True
        try:  # a lost database surfaces as many kinds of error (a plain OSError, a refused login ...): ask it
            async with asyncio.timeout(5):
                await database.ping(self._pool)
        except Exception:
            return True
        return False

    async def _give_up(self, arrival: Arrival, why: str) -> Outcome:
        """Keep the file as a rejection with the error, so an admin can look and reprocess; else set it aside."""
        try:
            sha, size = await asyncio.to_thread(file_digest, self._spool.data_path(arrival))
        except OSError as unreadable:
            return await self._set_aside(arrival, f"{why}; the file cannot be read: {unreadable}")
        try:
            outcome = await self._reject(arrival, Inspection(sha, size, None), RejectReason.INGEST_ERROR, why)
        except Exception as error:
            if await self._is_outage(error):
                raise
            return await self._set_aside(arrival, f"{why}; recording the rejection failed: {error!r}")
        self._spool.discard(arrival)
        return outcome

    async def _set_aside(self, arrival: Arrival, why: str) -> Outcome:
        where = await asyncio.to_thread(self._spool.set_aside, arrival, why)
        log.error(
            "file set aside in the spool's quarantine", extra={"actor": self.name, "dir": str(where), "error": why}
        )
        return Outcome("set_aside", reason=why)

    async def ingest(self, arrival: Arrival) -> Outcome:
        path = self._spool.data_path(arrival)
        if not path.exists():  # removed behind our back: nothing to file, but the caller hears of it
            self._spool.discard(arrival)
            return Outcome("vanished")
        facts = await asyncio.to_thread(inspect_file, path, max_bytes=self._max_bytes, max_pixels=self._max_pixels)
        try:
            rules = await projects.intake_rules(self._pool, arrival.project_id)
        except LookupError as gone:
            return await self._set_aside(arrival, str(gone))
        existing = await images.find_by_hash(self._pool, rules.project_id, facts.sha256)
        outcome = Outcome("duplicate", existing) if existing is not None else await self._file(arrival, facts, rules)
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

    async def _file(self, arrival: Arrival, facts: Inspection, rules: IntakeRules) -> Outcome:
        if facts.reason is not None:
            return await self._reject(arrival, facts, facts.reason, facts.detail)
        if facts.report is not None:
            return await self._report(arrival, facts, rules)
        return await self._media(arrival, facts, rules)

    async def _reject(
        self, arrival: Arrival, facts: Inspection, reason: RejectReason, detail: str, *, camera_id: int | None = None
    ) -> Outcome:
        extension = EXTENSIONS.get(facts.media, "bin") if facts.media else "bin"
        key = rejected_key(reason, arrival.project_id, facts.sha256_hex, extension)
        await self._objects.put_file(key, self._spool.data_path(arrival))
        async with self._pool.acquire() as connection, connection.transaction():
            await images.lock_content(connection, arrival.project_id, facts.sha256)
            image_id, created = await images.insert(
                connection,
                images.NewImage(
                    project_id=arrival.project_id,
                    kind=media_kind(facts.media),
                    sha256=facts.sha256,
                    original_name=arrival.original_name,
                    source=arrival.source,
                    upload_account=arrival.account,
                    size_bytes=facts.size,
                    original_key=key,
                    camera_id=camera_id,
                    stage="rejected",
                    reject_reason=reason,
                    exif=without_nul({"reject_detail": detail, "upload_path": arrival.upload_path}),
                    realtime=arrival.alerts,
                ),
            )
        log.warning(
            "file rejected",
            extra={"actor": self.name, "file": arrival.original_name, "reason": str(reason), "detail": detail},
        )
        return Outcome("rejected" if created else "duplicate", image_id, str(reason), camera_id)

    async def _report(self, arrival: Arrival, facts: Inspection, rules: IntakeRules) -> Outcome:
        report = facts.report
        assert report is not None
        filing = report_filing(report, arrival, rules, now=datetime.now(UTC))
        async with self._pool.acquire() as connection, connection.transaction():
            camera = await cameras.camera_for(connection, rules.project_id, filing.identity, register=True)
            assert camera is not None
            await cameras.record_health(
                connection,
                camera.id,
                report,
                report_date=filing.day,
                reported_at=filing.reported_at,
                raw=facts.report_text.replace("\x00", ""),
            )
        return Outcome("report", None, None, camera.id)

    async def _media(self, arrival: Arrival, facts: Inspection, rules: IntakeRules) -> Outcome:
        now = datetime.now(UTC)
        metadata, identity = photo_identity(facts.tags, arrival, rules, now=now)
        # A new camera is always registered (pending), so an admin can approve it and reprocess its photos.
        camera = await cameras.find_or_register(self._pool, rules.project_id, identity)
        filing = photo_filing(facts.tags, metadata, identity, camera.standing(), rules, now=now)
        if isinstance(filing, Refusal):
            return await self._reject(arrival, facts, filing.reason, filing.detail, camera_id=camera.id)
        # Objects first (their key is their content, so writing one twice is harmless), then one transaction.
        key = original_key(rules.project_id, facts.sha256_hex, EXTENSIONS[facts.media or MediaType.JPEG])
        await self._objects.put_file(key, self._spool.data_path(arrival))
        stills = await self._store_keyframes(rules.project_id, facts, self._spool.data_path(arrival))
        exif = without_nul(
            {
                "tags": facts.tags,
                "problems": list(filing.metadata.problems),
                "upload_path": arrival.upload_path,
                "identity": identity.identity,
                "profile": identity.profile,
                **({"video": facts.video | {"keyframes": stills}} if facts.video else {}),
            }
        )
        async with self._pool.acquire() as connection, connection.transaction():
            # Locks in one order everywhere: content, camera, then the project's sites.
            await images.lock_content(connection, rules.project_id, facts.sha256)
            await cameras.lock(connection, camera.id)
            decision, deployment_id, site_id = await self._place(connection, camera, filing, rules)
            image_id, created = await images.insert(
                connection,
                images.NewImage(
                    project_id=rules.project_id,
                    kind=media_kind(facts.media),
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
                    width=facts.width or filing.metadata.width or facts.video.get("width"),
                    height=facts.height or filing.metadata.height or facts.video.get("height"),
                    taken_at=filing.taken_at,
                    utc_offset_minutes=filing.utc_offset_minutes,
                    latitude=filing.reading.latitude if filing.reading else None,
                    longitude=filing.reading.longitude if filing.reading else None,
                    exif=exif,
                ),
            )
        if not created:  # the same bytes, filed a moment ago by another worker: the placement changed nothing
            return Outcome("duplicate", image_id, None, camera.id)
        if camera.created or decision.kind not in cameras.QUIET_DECISIONS:
            self._publish(
                "camera.updated", {"id": camera.id, "project_id": rules.project_id, "change": str(decision.kind)}
            )
        return Outcome("stored", image_id, None, camera.id)

    async def _place(
        self, connection: asyncpg.Connection, camera: cameras.Camera, filing: PhotoFiling, rules: IntakeRules
    ) -> tuple[Any, int | None, int | None]:
        """Where the camera stands for this photo: the site decision, carried out; (decision, deployment, site)."""
        if filing.reading is not None:  # it may found a site: one such decision per project at a time
            await cameras.lock_sites(connection, rules.project_id)
        decision = decide(
            await cameras.placement(connection, camera.id),
            filing.reading,
            filing.taken_on,
            from_status_report=False,
            sites=await cameras.sites_of(connection, rules.project_id),
            radius_m=rules.site_radius_m,
        )
        await cameras.apply(connection, camera, decision)
        deployment_id, site_id = await cameras.deployment_on(connection, camera.id, filing.taken_on)
        return decision, deployment_id, site_id

    async def _store_keyframes(self, project_id: int, facts: Inspection, path: Path) -> list[dict[str, Any]]:
        """Stills for detection, decoded only for a new video (after the duplicate check)."""
        if not facts.video:
            return []
        stored = []
        for offset, jpeg in await asyncio.to_thread(keyframes, path):
            key = keyframe_key(project_id, facts.sha256_hex, offset)
            await self._objects.put_bytes(key, jpeg)
            stored.append({"offset_s": offset, "key": key})
        return stored
