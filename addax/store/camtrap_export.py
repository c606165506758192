"""A project as a Camtrap DP 1.0.2 package (the rows: domain/camtrap.py), streamed into a zip.

One read-only repeatable-read transaction is one snapshot of the project. Deployments are few and read
whole; media are read through server-side cursors, once for ``media.csv``, once for ``observations.csv``
(with their boxes and verifications) and, when the files go inside the package, once more for the files,
streamed from the object store. Rows go to the zip in batches, so memory does not grow with the project.

``export_media = "url"`` writes links instead of files: an S3 backend's signed URLs when the store can sign
(``presigned_url(key, expires_s)``), else the API's ``{http.public_url}/api/images/{id}/file``, which checks
the reader's login itself. In zip mode the files go in before ``media.csv``, so that an original missing from the
store (deleted behind Addax's back) is left out and its row written with the API link instead, counted in the
summary, rather than the download breaking off half-way. Photos that may show people are never handed to a caller
who may not see their original (``private_originals=False``): their path is the API's blurred copy, and
``filePublic`` is false.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import asyncpg

from addax.domain import camtrap
from addax.domain.camtrap import Deployment, EventTally, HumanCheck, Media, ModelBox, Photo, Selection
from addax.domain.privacy import PRIVACY_MIN_SCORE
from addax.store.objects import ObjectMissing, ObjectStore
from addax.store.zip_stream import Sink, ZipStream

log = logging.getLogger("addax.export")

Progress = Callable[[int, int], object]
BATCH_BYTES = 256 * 1024  # CSV text handed to the zip at a time
PREFETCH = 500


class ExportError(Exception):
    """Nothing to export, or a project that does not exist; the message says which. Retrying will not help."""


@runtime_checkable
class Signing(Protocol):
    """An object store that can hand out time-limited links (the S3 backend)."""

    async def presigned_url(self, key: str, expires_s: int) -> str: ...


@dataclass(frozen=True, slots=True)
class MediaLinks:
    """How ``filePath`` is written: ``zip`` (inside the package) or ``url``."""

    mode: str = "zip"
    public_url: str = ""  # http.public_url, for links through the API
    signed_for_s: int = 7 * 86400
    private_originals: bool = True  # the caller may see originals with people (a project admin, the CLI)


@dataclass(frozen=True, slots=True)
class Request:
    project_id: int
    selection: Selection = field(default_factory=Selection)
    links: MediaLinks = field(default_factory=MediaLinks)
    contact: str = "Addax"
    license: str = camtrap.DEFAULT_LICENSE
    instance: str = "Addax"
    software_version: str = ""


@dataclass(slots=True)
class Tally:
    deployments: int = 0
    media: int = 0
    observations: int = 0
    files: int = 0
    unlocated: int = 0  # deployments left out: no location
    missing_files: int = 0  # zip mode: originals not in the object store (their media rows are links)
    bytes_written: int = 0
    api_links: bool = False  # some paths are links through the API (no signing store)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        line = f"{self.deployments} deployments, {self.media} media, {self.observations} observations" + (
            f", {self.files} files" if self.files else ""
        )
        if self.unlocated:
            line += f"; left out: {self.unlocated} deployments without a location (and their media)"
        if self.missing_files:
            line += (
                f"; {self.missing_files} file{'s' if self.missing_files != 1 else ''} missing from the object store"
                " (left out of the zip, their media paths are links)"
            )
        if self.api_links:
            line += "; media paths are links to this server's API (they need a login)"
        return line


@dataclass(frozen=True, slots=True)
class _Project:
    name: str
    zone: ZoneInfo
    threshold: float
    admins: tuple[str, ...]


_PRIVATE = """(i.blur_all OR i.people_unblurred OR i.stage <> 'done' OR i.labels && ARRAY['person', 'vehicle']
              OR EXISTS (SELECT 1 FROM detections d WHERE d.image_id = i.id
                         AND d.label IN ('person', 'vehicle') AND d.score >= $6))"""

_SELECTED = """FROM images i LEFT JOIN events e ON e.id = i.event_id
WHERE i.project_id = $1 AND i.deployment_id = ANY($2::bigint[]) AND i.kind IN ('photo', 'video')
  AND i.stage <> 'rejected' AND i.taken_at IS NOT NULL
  AND ($3::timestamptz IS NULL OR i.taken_at >= $3) AND ($4::timestamptz IS NULL OR i.taken_at < $4)
  AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM unnest(i.taxa) t WHERE lower(t) = ANY($5::text[])))"""

# An event's photos come together (its start, then its id), and in time within it.
_ORDER = "ORDER BY coalesce(e.started_at, i.taken_at), i.event_id NULLS FIRST, i.taken_at, i.id"

_MEDIA = f"""SELECT i.id, encode(i.sha256, 'hex') AS sha256, i.deployment_id, i.kind::text AS kind, i.taken_at,
       i.utc_offset_minutes, i.original_name, i.original_key, i.size_bytes, i.exif, {_PRIVATE} AS private,
       ARRAY(SELECT t.tag FROM image_tags t WHERE t.image_id = i.id ORDER BY t.tag) AS tags,
       i.event_id, i.stage::text AS stage, i.processed_at
{_SELECTED}"""

_OBSERVED = f"""SELECT i.id, encode(i.sha256, 'hex') AS sha256, i.deployment_id, i.taken_at, i.utc_offset_minutes,
       i.event_id, i.stage::text AS stage, i.processed_at,
       (SELECT jsonb_agg(jsonb_build_object('label', b.label, 'score', b.score, 'bbox', b.bbox, 'model', b.model,
                 'taxon', b.taxon, 'common_name', b.common_name, 'taxon_score', b.taxon_score,
                 'classifier', b.classifier) ORDER BY b.index)
          FROM (SELECT DISTINCT ON (d.index) d.index, d.label, d.score, d.bbox, d.model, c.taxon, c.common_name,
                       c.score AS taxon_score, c.model AS classifier
                  FROM detections d LEFT JOIN classifications c ON c.detection_id = d.id AND c.rank = 1
                 WHERE d.image_id = i.id ORDER BY d.index, c.model) b) AS boxes,
       v.image_id IS NOT NULL AS verified, v.boxes AS checked_boxes, v.blank, v.individuals, v.notes, v.verified_at,
       u.email AS verified_by
{
    _SELECTED.replace(
        "FROM images i",
        "FROM images i LEFT JOIN verifications v ON v.image_id = i.id LEFT JOIN users u ON u.id = v.verified_by",
        1,
    )
}"""


@contextlib.asynccontextmanager
async def open_export(pool: asyncpg.Pool, request: Request) -> AsyncIterator[Export]:
    """One snapshot of the project, checked (ExportError) before a byte is written; ``write`` it inside."""
    async with pool.acquire() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
        project = await _project(connection, request.project_id)
        deployments = await _deployments(connection, request, project.zone)
        located = [d for d in deployments if d.latitude is not None and d.longitude is not None]
        if not located:
            raise ExportError(
                f"project {project.name!r} has no deployment with a location in this selection: nothing to export"
            )
        export = Export(connection, request, project, located, unlocated=len(deployments) - len(located))
        export.total_media = await connection.fetchval(f"SELECT count(*) {_SELECTED}", *export.arguments()[:5])
        yield export


class Export:
    def __init__(
        self,
        connection: asyncpg.Connection,
        request: Request,
        project: _Project,
        deployments: Sequence[Deployment],
        *,
        unlocated: int,
    ) -> None:
        self._connection = connection
        self.request = request
        self.project = project
        self.deployments = list(deployments)
        self.ids = camtrap.deployment_ids(self.deployments)
        self.total_media = 0
        self.tally = Tally(unlocated=unlocated)
        self._taxa: dict[str, str | None] = {}
        self._missing: set[int] = set()  # images whose original the files pass did not find
        self._bounds = request.selection.bounds(project.zone)

    def arguments(self) -> list[Any]:
        species = [name.lower() for name in self.request.selection.species] or None
        return [self.request.project_id, list(self.ids), *self._bounds, species, PRIVACY_MIN_SCORE]

    @property
    def passes(self) -> int:
        return 3 if self.request.links.mode == "zip" else 2

    async def write(self, sink: Sink, *, objects: ObjectStore, progress: Progress | None = None) -> Tally:
        """The whole package into ``sink``: deployments, the files (zip mode), media, observations, datapackage.json."""
        total = self.total_media * self.passes
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            if progress is not None:
                progress(done, total)

        async def counted(data: bytes) -> None:
            self.tally.bytes_written += len(data)
            await sink(data)

        async with ZipStream(counted) as archive:
            hint = self.total_media * 2000
            await archive.add("deployments.csv", self._csv(camtrap.DEPLOYMENT_FIELDS, self._deployment_rows()))
            if self.request.links.mode == "zip":  # first: media.csv then knows which files are missing
                await self._files(archive, objects, advance)
            await archive.add(
                "media.csv", self._csv(camtrap.MEDIA_FIELDS, self._media_rows(objects, advance)), size_hint=hint
            )
            await archive.add(
                "observations.csv",
                self._csv(camtrap.OBSERVATION_FIELDS, self._observation_rows(advance)),
                size_hint=hint * 2,
            )
            document = camtrap.datapackage(self._facts(), str(uuid.uuid4()))
            await archive.add("datapackage.json", _once(_json(document)), size_hint=len(_json(document)))
        return self.tally

    # --- tables ---------------------------------------------------------------------------------------

    async def _csv(self, fields: Sequence[str], rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(fields)
        async for row in rows:
            writer.writerow(camtrap.csv_values(row, fields))
            if text.tell() >= BATCH_BYTES:
                yield text.getvalue().encode()
                text.seek(0)
                text.truncate()
        yield text.getvalue().encode()

    async def _deployment_rows(self) -> AsyncIterator[dict[str, Any]]:
        for deployment in self.deployments:
            span = camtrap.deployment_span(deployment, self.project.zone, self._bounds)
            self.tally.deployments += 1
            yield camtrap.deployment_row(deployment, self.ids[deployment.id], span)

    async def _media(self) -> AsyncIterator[Media]:
        async for row in self._connection.cursor(f"{_MEDIA} {_ORDER}", *self.arguments(), prefetch=PREFETCH):
            yield Media(
                id=row["id"],
                sha256=row["sha256"],
                deployment_id=row["deployment_id"],
                kind=row["kind"],
                taken_at=row["taken_at"],
                utc_offset_minutes=row["utc_offset_minutes"],
                original_name=row["original_name"],
                original_key=row["original_key"],
                size_bytes=row["size_bytes"],
                private=row["private"],
                exif=row["exif"] if isinstance(row["exif"], dict) else {},
                tags=tuple(row["tags"]),
            )

    async def _media_rows(self, objects: ObjectStore, advance: Callable[[int], None]) -> AsyncIterator[dict[str, Any]]:
        async for media in self._media():
            deployment_id = self.ids[media.deployment_id]
            path = await self._file_path(media, deployment_id, objects)
            self.tally.media += 1
            advance(1)
            yield camtrap.media_row(media, deployment_id, self.project.zone, path)

    async def _file_path(self, media: Media, deployment_id: str, objects: ObjectStore) -> str:
        links = self.request.links
        hidden = media.private and not links.private_originals
        missing = media.id in self._missing
        if links.mode == "zip" and not hidden and media.original_key and not missing:
            return camtrap.media_path(media, deployment_id)
        if not hidden and media.original_key and not missing and isinstance(objects, Signing):
            return await objects.presigned_url(media.original_key, links.signed_for_s)
        self.tally.api_links = True
        base = links.public_url.rstrip("/") or "http://localhost:8080"
        variant = "annotated" if hidden else "original"
        return f"{base}/api/images/{media.id}/file?variant={variant}"

    async def _observation_rows(self, advance: Callable[[int], None]) -> AsyncIterator[dict[str, Any]]:
        event: EventTally | None = None
        event_key: int | None = None
        async for row in self._connection.cursor(f"{_OBSERVED} {_ORDER}", *self.arguments()[:5], prefetch=PREFETCH):
            photo = self._photo(row)
            found = camtrap.media_observations(photo)
            if row["event_id"] is not None and row["event_id"] != event_key:
                if event is not None:
                    for event_row in event.rows():
                        yield self._counted(event_row)
                event, event_key = EventTally(camtrap.event_id_of(photo.media_id), photo.deployment_id), row["event_id"]
            elif row["event_id"] is None and event is not None:
                for event_row in event.rows():
                    yield self._counted(event_row)
                event, event_key = None, None
            if event is not None:
                event.add(photo, found)
            self._remember(found)
            for media_row in camtrap.media_rows(photo, found, event.event_id if event else None):
                yield self._counted(media_row)
            advance(1)
        if event is not None:
            for event_row in event.rows():
                yield self._counted(event_row)

    def _counted(self, row: dict[str, Any]) -> dict[str, Any]:
        self.tally.observations += 1
        return row

    def _remember(self, observations: Sequence[camtrap.Observation]) -> None:
        for observation in observations:
            if observation.scientific_name:
                known = self._taxa.get(observation.scientific_name)
                self._taxa[observation.scientific_name] = known or observation.common_name

    def _photo(self, row: asyncpg.Record) -> Photo:
        check = None
        if row["verified"]:
            check = HumanCheck(
                boxes=row["checked_boxes"] or [],
                blank=row["blank"],
                individuals=row["individuals"],
                notes=row["notes"] or "",
                by=row["verified_by"],
                at=row["verified_at"],
            )
        media = Media(
            id=row["id"],
            sha256=row["sha256"],
            deployment_id=row["deployment_id"],
            kind="photo",
            taken_at=row["taken_at"],
            utc_offset_minutes=row["utc_offset_minutes"],
            original_name="",
            original_key=None,
            size_bytes=0,
            private=False,
        )
        return Photo(
            media_id=row["sha256"],
            deployment_id=self.ids[row["deployment_id"]],
            taken=media.local_time(self.project.zone),
            stage=row["stage"],
            threshold=self.project.threshold,
            boxes=tuple(_model_box(box) for box in row["boxes"] or []),
            check=check,
            processed_at=row["processed_at"],
        )

    # --- files and metadata ---------------------------------------------------------------------------

    async def _files(self, archive: ZipStream, objects: ObjectStore, advance: Callable[[int], None]) -> None:
        async for media in self._media():
            advance(1)
            if not media.original_key or (media.private and not self.request.links.private_originals):
                continue
            path = camtrap.media_path(media, self.ids[media.deployment_id])
            async with contextlib.aclosing(objects.stream(media.original_key)) as chunks:
                try:  # before the entry is opened: a missing file leaves no empty entry behind
                    first = await anext(chunks, b"")
                except ObjectMissing:
                    log.warning("an original is missing from the object store", extra={"image": media.id})
                    self._missing.add(media.id)
                    self.tally.missing_files += 1
                    continue
                await archive.add(path, _then(first, chunks), compress=False, size_hint=media.size_bytes)
            self.tally.files += 1

    def _facts(self) -> camtrap.PackageFacts:
        spans = [camtrap.deployment_span(d, self.project.zone, self._bounds) for d in self.deployments]
        return camtrap.PackageFacts(
            project_id=self.request.project_id,
            project=self.project.name,
            contact=self.request.contact,
            admins=self.project.admins,
            license=self.request.license,
            created=datetime.now(UTC),
            temporal=(min(s[0] for s in spans).date(), max(s[1] for s in spans).date()),
            spatial=camtrap.spatial((d.latitude, d.longitude) for d in self.deployments),  # type: ignore[misc]
            taxa=self._taxa,
            instance=self.request.instance,
            software_version=self.request.software_version,
        )


def _model_box(box: dict[str, Any]) -> ModelBox:
    return ModelBox(
        label=box["label"],
        score=float(box["score"]),
        bbox=tuple(float(v) for v in box["bbox"]),  # type: ignore[arg-type]
        model=box["model"],
        taxon=box["taxon"],
        common_name=box["common_name"],
        taxon_score=float(box["taxon_score"]) if box["taxon_score"] is not None else None,
        classifier=box["classifier"],
    )


def _json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _then(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield first
    async for chunk in rest:
        yield chunk


async def _project(connection: asyncpg.Connection, project_id: int) -> _Project:
    row = await connection.fetchrow(
        "SELECT name, timezone, detection_threshold FROM projects WHERE id = $1", project_id
    )
    if row is None:
        raise ExportError(f"project {project_id} does not exist")
    admins = await connection.fetch(
        """SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
           WHERE m.project_id = $1 AND m.role = 'project-admin' AND NOT u.disabled ORDER BY u.email""",
        project_id,
    )
    return _Project(
        name=row["name"],
        zone=ZoneInfo(row["timezone"]),
        threshold=float(row["detection_threshold"]),
        admins=tuple(admin["email"] for admin in admins),
    )


async def _deployments(connection: asyncpg.Connection, request: Request, zone: ZoneInfo) -> list[Deployment]:
    """The project's deployments at the selected sites that ran during the selected days."""
    selection = request.selection
    rows = await connection.fetch(
        """WITH taken AS (SELECT deployment_id, min(taken_at) AS first, max(taken_at) AS last FROM images
                          WHERE project_id = $1 AND deployment_id IS NOT NULL AND stage <> 'rejected'
                          GROUP BY deployment_id)
           SELECT d.id, d.starts_on, d.ends_on, c.identity, c.name AS camera_name, c.make, c.model,
                  s.id AS site_id, s.name AS site_name,
                  ST_Y(coalesce(d.location, s.location)::geometry) AS latitude,
                  ST_X(coalesce(d.location, s.location)::geometry) AS longitude,
                  t.first, t.last,
                  ARRAY(SELECT g.tag FROM camera_tags g WHERE g.camera_id = c.id ORDER BY g.tag) AS tags
             FROM deployments d JOIN cameras c ON c.id = d.camera_id LEFT JOIN sites s ON s.id = d.site_id
             LEFT JOIN taken t ON t.deployment_id = d.id
            WHERE c.project_id = $1 AND ($2::text[] IS NULL OR s.name = ANY($2::text[]))
              AND ($3::date IS NULL OR coalesce(d.ends_on, greatest(t.last::date, d.starts_on)) >= $3)
              AND ($4::date IS NULL OR least(d.starts_on, t.first::date) <= $4)
            ORDER BY c.identity, d.starts_on, d.id""",
        request.project_id,
        list(selection.sites) or None,
        selection.first_day,
        selection.last_day,
    )
    if selection.sites:
        known = {row["site_name"] for row in rows}
        if missing := [name for name in selection.sites if name not in known]:
            raise ExportError(f"no deployment at site {missing[0]!r} in this project (names are case-sensitive)")
    return [
        Deployment(
            id=row["id"],
            camera_identity=row["identity"],
            camera_name=row["camera_name"],
            make=row["make"],
            model=row["model"],
            site_id=row["site_id"],
            site_name=row["site_name"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            starts_on=row["starts_on"],
            ends_on=row["ends_on"],
            first_taken_at=row["first"],
            last_taken_at=row["last"],
            tags=tuple(row["tags"]),
        )
        for row in rows
    ]
