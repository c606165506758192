"""``addax import camtrap-dp``: a Camtrap DP package made elsewhere (another Addax, Agouti, TRAPPER) loaded into a
project.

    check pass (camtrap_check) ─► refused with up to 20 problems, unless skip_invalid (bad rows are left out)
    deployments ─► camera (cameraID as its serial; new ones active; deploymentTags its tags), site (same name
                   reused), deployment from deploymentStart's day to deploymentEnd's (closed: see
                   camtrap.deployment_span for why an export of a running deployment says the same)
    media ─► a file in the package: stored under its hash (an image already in the project is linked, not copied)
          └► a path outside the package: matched to an image of the project by file name and time, else skipped
    observations ─► human (or unstated): the photo's verification; machine: detections with their species
    finish ─► photos that came with machine observations are done here (thumbnails, event, summary);
              the others wait for the detector (stage 'stored'), as if they had just arrived

Every record is noted in ``camtrap_imported`` (package id, kind, its ID -> the Addax row) in the transaction that
writes it, so importing the same package again adds nothing. Imported photos never raise real-time alerts.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import asyncpg

from addax.domain.camtrap_package import (
    Deployment,
    Media,
    PackageError,
    camera_make_model,
    deployment_from,
    media_from,
    offset_minutes,
    package_key,
)
from addax.domain.field_work import FieldWorkError, clean_tag
from addax.store import audit, images
from addax.store.camtrap_check import MAX_LISTED, Checked, Progress, check_package, no_progress
from addax.store.camtrap_files import PackageFiles
from addax.store.camtrap_observations import ObservationImport, Render
from addax.store.objects import ObjectStore, original_key


@dataclass(frozen=True, slots=True)
class Looked:
    """What intake's inspection says of a media file: why it is refused (None: it is sound), else what it is."""

    problem: str | None
    kind: str = "photo"  # photo | video, from its bytes
    extension: str = "bin"
    width: int | None = None
    height: int | None = None


class Inspect(Protocol):
    """Intake's checks of a received file (the caller's: the store does not decode pictures); ``max_bytes``: the
    most of a file that is copied out of the package to be looked at."""

    @property
    def max_bytes(self) -> int: ...

    def __call__(self, path: Path) -> Looked: ...


class ImportRefused(Exception):
    """The package has problems; nothing was written. ``problems``: the first 20, ``count``: all of them."""

    def __init__(self, problems: list[str], count: int) -> None:
        more = f" (and {count - len(problems)} more)" if count > len(problems) else ""
        super().__init__(
            f"the package has {count} problem(s){more}, nothing imported (--skip-invalid leaves those rows out):\n"
            + "\n".join(f"  {problem}" for problem in problems)
        )
        self.problems, self.count = problems, count


@dataclass
class Tally:
    deployments_created: int = 0
    deployments_known: int = 0
    media_imported: int = 0
    media_matched: int = 0
    media_known: int = 0
    media_skipped: int = 0
    waiting_for_detector: int = 0
    verifications: int = 0
    detections: int = 0
    observations_known: int = 0
    observations_skipped: int = 0
    events_covered: int = 0  # event-level observations whose photos all have media-level ones
    invalid_rows: int = 0
    problems: list[str] = field(default_factory=list)

    def note(self, problem: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)

    def summary(self) -> str:
        lines = [
            f"deployments: {self.deployments_created} created, {self.deployments_known} already imported",
            f"media: {self.media_imported} imported ({self.waiting_for_detector} wait for the detector), "
            f"{self.media_matched} matched to images already stored, {self.media_known} already imported, "
            f"{self.media_skipped} skipped",
            f"observations: {self.verifications} as verifications, {self.detections} as detections, "
            f"{self.observations_known} already imported, {self.observations_skipped} skipped, "
            f"{self.events_covered} event-level ones told by their photos' own",
        ]
        if self.invalid_rows:
            lines.append(f"invalid rows left out: {self.invalid_rows}")
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a package deployment went: its Addax deployment, camera and site, and its point."""

    deployment_id: int
    camera_id: int
    site_id: int
    latitude: float
    longitude: float


async def import_package(
    pool: asyncpg.Pool,
    objects: ObjectStore,
    location: Path,
    *,
    project_id: int,
    verifier_id: int | None,
    actor: str,
    skip_invalid: bool = False,
    progress: Progress = no_progress,
    render: Render | None = None,
    inspect: Inspect,
) -> Tally:
    """Load the package at ``location`` (a directory or a .zip) into the project. ``verifier_id``: the user that
    human observations are recorded as verified by (None: the project's first admin); ``render``: how the
    thumbnails of photos stored done are drawn (None: they have none, the dashboard shows a placeholder);
    ``inspect``: intake's checks of a received file, which every media file passes before it is stored."""
    with PackageFiles(location) as files:
        checked = await asyncio.to_thread(check_package, files, progress)
        if checked.problem_count and not skip_invalid:
            raise ImportRefused(checked.problems, checked.problem_count)
        _, digest = files.descriptor()
        tally = Tally(invalid_rows=sum(len(lines) for lines in checked.invalid.values()))
        key = package_key(checked.descriptor, digest)
        run = _Run(pool, objects, files, checked, project_id, key, tally, progress, inspect)
        verifier = verifier_id if verifier_id is not None else await _first_admin(pool, project_id)
        placed = await run.deployments()
        with tempfile.TemporaryDirectory(prefix="addax-camtrap-") as spool:
            media = await run.media(placed, Path(spool))
        observations = ObservationImport(
            pool, project_id=project_id, package=run.package, verifier_id=verifier, checked=checked, tally=tally
        )
        await observations.run(files, media, placed, progress)
        await observations.finish(objects, run.finishing, render)
    await audit.record(
        pool,
        actor=actor,
        action="project.import_camtrap_dp",
        target=f"project:{project_id}",
        package=run.package,
        media_imported=tally.media_imported,
        media_matched=tally.media_matched,
        verifications=tally.verifications,
        detections=tally.detections,
    )
    return tally


async def _first_admin(pool: asyncpg.Pool, project_id: int) -> int | None:
    found = await pool.fetchval(
        "SELECT user_id FROM memberships WHERE project_id = $1 AND role = 'project-admin' ORDER BY user_id LIMIT 1",
        project_id,
    )
    return int(found) if found is not None else None


class _Run:
    """One import's deployments and media passes (observations: ``camtrap_observations``)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        objects: ObjectStore,
        files: PackageFiles,
        checked: Checked,
        project_id: int,
        package: str,
        tally: Tally,
        progress: Progress,
        inspect: Inspect,
    ) -> None:
        self.pool, self.objects, self.files, self.checked = pool, objects, files, checked
        self.project_id, self.package, self.tally, self.progress = project_id, package, tally, progress
        self.inspect = inspect
        self.finishing: list[int] = []  # images stored 'done' here: their thumbnails and events come at the end

    async def _known(self, kind: str) -> dict[str, int | None]:
        rows = await self.pool.fetch(
            "SELECT source_id, target_id FROM camtrap_imported WHERE project_id = $1 AND package = $2 AND kind = $3",
            self.project_id,
            self.package,
            kind,
        )
        return {row["source_id"]: row["target_id"] for row in rows}

    async def deployments(self) -> dict[str, Placed]:
        known = await self._known("deployment")
        placed: dict[str, Placed] = {}
        tick = self.progress("deployments", self.checked.rows.get("deployments"))
        for line, _, row in self.files.rows(self.checked.paths["deployments"]):
            tick()
            if line in self.checked.invalid["deployments"]:
                continue
            deployment = deployment_from(row)
            async with self.pool.acquire() as connection, connection.transaction():
                target = known.get(deployment.id)
                if target is None:
                    target = await self._place(connection, deployment)
                    await self._tag_camera(connection, deployment, target)
                    await _remember(connection, self, "deployment", deployment.id, target)
                    self.tally.deployments_created += 1
                else:
                    self.tally.deployments_known += 1
                ids = await connection.fetchrow("SELECT camera_id, site_id FROM deployments WHERE id = $1", target)
            if ids is None:  # deleted since the first import: its media are skipped, not misfiled
                self.tally.note(f"deployment {deployment.id} was imported before and deleted since")
                continue
            placed[deployment.id] = Placed(
                target, ids["camera_id"], ids["site_id"], deployment.latitude, deployment.longitude
            )
        return placed

    async def _place(self, connection: asyncpg.Connection, deployment: Deployment) -> int:
        point = "ST_SetSRID(ST_MakePoint($3, $2), 4326)::geography"
        make, model = camera_make_model(deployment.camera_model)
        camera_id = await connection.fetchval(
            f"""INSERT INTO cameras (project_id, identity, identity_kind, name, make, model, status, last_location)
                VALUES ($1, $4, $5, $6, $7, $8, 'active', {point})
                ON CONFLICT (project_id, identity) DO UPDATE SET identity = EXCLUDED.identity RETURNING id""",
            self.project_id,
            deployment.latitude,
            deployment.longitude,
            deployment.camera_identity,
            "serial" if deployment.camera_id else "fallback",
            deployment.camera_name,
            make,
            model,
        )
        site_id = await connection.fetchval(
            f"""INSERT INTO sites (project_id, name, location) VALUES ($1, $4, {point})
                ON CONFLICT (project_id, name) DO UPDATE SET name = EXCLUDED.name RETURNING id""",
            self.project_id,
            deployment.latitude,
            deployment.longitude,
            deployment.site_name,
        )
        starts_on, ends_on = deployment.start.date(), max(deployment.end.date(), deployment.start.date())
        same = await connection.fetchval(  # the same deployment already here (a project moving back): reuse it
            "SELECT id FROM deployments WHERE camera_id = $1 AND site_id = $2 AND starts_on = $3 AND ends_on = $4",
            camera_id,
            site_id,
            starts_on,
            ends_on,
        )
        if same is not None:
            return int(same)
        return int(
            await connection.fetchval(
                f"""INSERT INTO deployments (camera_id, site_id, location, starts_on, ends_on)
                    VALUES ($1, $4, {point}, $5, $6) RETURNING id""",
                camera_id,
                deployment.latitude,
                deployment.longitude,
                site_id,
                starts_on,
                ends_on,
            )
        )

    async def _tag_camera(self, connection: asyncpg.Connection, deployment: Deployment, target: int) -> None:
        """deploymentTags become the camera's tags (Addax tags cameras, and exports them as deploymentTags); only
        when the deployment is first imported, so a tag removed here since does not come back."""
        for text in deployment.tags:
            try:
                tag = clean_tag(text)
            except FieldWorkError as error:
                self.tally.note(f"deployment {deployment.id}: tag {text[:60]!r} left out ({error})")
                continue
            await connection.execute(
                """INSERT INTO camera_tags (camera_id, tag) SELECT camera_id, $2 FROM deployments WHERE id = $1
                   ON CONFLICT DO NOTHING""",
                target,
                tag,
            )

    async def media(self, placed: dict[str, Placed], spool: Path) -> dict[str, int]:
        """mediaID -> image id, for every media row imported, matched or imported before."""
        known = await self._known("media")
        # Stored done by an earlier run of this package that died before finishing them (finishing sets
        # processed_at in the transaction that puts the photo in its event): this run finishes them.
        rows = await self.pool.fetch(
            """SELECT m.target_id FROM camtrap_imported m JOIN images i ON i.id = m.target_id
               WHERE m.project_id = $1 AND m.package = $2 AND m.kind = 'media' AND m.created
                 AND i.stage = 'done' AND i.processed_at IS NULL ORDER BY m.target_id""",
            self.project_id,
            self.package,
        )
        self.finishing.extend(int(row["target_id"]) for row in rows)
        found: dict[str, int] = {}
        tick = self.progress("media", self.checked.rows.get("media"))
        for line, _, row in self.files.rows(self.checked.paths["media"]):
            tick()
            if line in self.checked.invalid["media"]:
                continue
            media = media_from(row)
            if media.id in known:
                self.tally.media_known += 1
                if (image_id := known[media.id]) is not None:
                    found[media.id] = image_id
                continue
            where = placed.get(media.deployment_id)
            if where is None:
                self.tally.media_skipped += 1
                self.tally.note(f"media {media.id}: its deployment {media.deployment_id} was not imported")
                continue
            if self.files.has_file(media.file_path):
                image_id = await self._store(media, where, spool)
            else:
                image_id = await self._match(media)
            if image_id is not None:
                found[media.id] = image_id
        return found

    async def _store(self, media: Media, where: Placed, spool: Path) -> int | None:
        copy = self.files.copy_out
        path, sha_hex, size = await asyncio.to_thread(copy, media.file_path, spool, max_bytes=self.inspect.max_bytes)
        key = ""
        try:
            # What intake would refuse (not a photo or a video, a decompression bomb, too large) is not stored: it
            # would be an original that users are served. Its type comes from its bytes, not from fileMediatype.
            looked = await asyncio.to_thread(self.inspect, path)
            if looked.problem is not None:
                self.tally.media_skipped += 1
                self.tally.note(f"media {media.id}: refused ({looked.problem}): {media.file_path[:120]}")
                return None
            sha = bytes.fromhex(sha_hex)
            existing = await images.find_by_hash(self.pool, self.project_id, sha)
            if existing is None:
                key = original_key(self.project_id, sha_hex, looked.extension)
                await self.objects.put_file(key, path)
        finally:
            path.unlink(missing_ok=True)
        # Media the package says what they show (a model's or a person's observations) need no detector: done,
        # with thumbnails drawn here; the others (none, or only "unclassified") go through the pipeline. A video
        # is kept as it is (the detector needs keyframes that intake makes): done, without thumbnails.
        described = media.id in self.checked.machine_media or media.id in self.checked.human_media
        done = described or looked.kind == "video"
        async with self.pool.acquire() as connection, connection.transaction():
            await images.lock_content(connection, self.project_id, sha)
            if existing is not None:
                image_id, created = existing, False
            else:
                image_id, created = await images.insert(
                    connection,
                    images.NewImage(
                        project_id=self.project_id,
                        kind=looked.kind,
                        sha256=sha,
                        original_name=media.name,
                        source="import",
                        upload_account="",
                        size_bytes=size,
                        original_key=key,
                        camera_id=where.camera_id,
                        deployment_id=where.deployment_id,
                        site_id=where.site_id,
                        width=looked.width,
                        height=looked.height,
                        taken_at=media.timestamp,
                        utc_offset_minutes=offset_minutes(media.timestamp),
                        latitude=where.latitude,
                        longitude=where.longitude,
                        exif=media.exif,
                        stage="done" if done else "stored",
                        realtime=False,
                    ),
                )
            await _remember(connection, self, "media", media.id, image_id, created=created)
        if created:
            self.tally.media_imported += 1
            if done:  # a video too: its event; its thumbnails are left out (no keyframes here)
                self.finishing.append(image_id)
            elif not done:
                self.tally.waiting_for_detector += 1
        else:
            self.tally.media_matched += 1  # the same bytes were already in the project
        return image_id

    async def _match(self, media: Media) -> int | None:
        """An image of the project with the media's file name and time (a package of media already here)."""
        if len(media.id) == 64 and all(c in "0123456789abcdef" for c in media.id):  # Addax's mediaID: the SHA-256
            same = await images.find_by_hash(self.pool, self.project_id, bytes.fromhex(media.id))
            if same is not None:
                async with self.pool.acquire() as connection, connection.transaction():
                    await _remember(connection, self, "media", media.id, same)
                self.tally.media_matched += 1
                return same
        rows = await self.pool.fetch(
            "SELECT id FROM images WHERE project_id = $1 AND original_name = $2 AND taken_at = $3 LIMIT 2",
            self.project_id,
            media.name,
            media.timestamp,
        )
        if len(rows) != 1:
            why = "no image of this project has" if not rows else "several images of this project have"
            self.tally.media_skipped += 1
            self.tally.note(f"media {media.id}: not in the package and {why} its name and time ({media.name})")
            return None
        async with self.pool.acquire() as connection, connection.transaction():
            await _remember(connection, self, "media", media.id, rows[0]["id"])
        self.tally.media_matched += 1
        return int(rows[0]["id"])


async def _remember(
    connection: asyncpg.Connection, run: _Run, kind: str, source_id: str, target: int | None, *, created: bool = False
) -> None:
    await connection.execute(
        """INSERT INTO camtrap_imported (project_id, package, kind, source_id, target_id, created)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        run.project_id,
        run.package,
        kind,
        source_id,
        target,
        created,
    )


__all__ = ["ImportRefused", "Inspect", "Looked", "PackageError", "Tally", "import_package"]
