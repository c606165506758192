"""The observations of a Camtrap DP package, written as Addax keeps them, and the imported photos finished.

- classificationMethod ``human`` (or left empty): the photo's verification; each observation is one box of it
  (whole photo when it has no bbox), ``blank`` a blank verification. The person is the importing user (or the
  project's first admin), or the project member whose e-mail is ``classifiedBy`` (as Addax exports write
  it); any other ``classifiedBy`` is kept in the notes. A photo this server had
  already verified keeps its own verification (people here win).
- ``machine``: a detection (label from observationType, score from classificationProbability or 1, the model
  from classifiedBy) with its species as the rank-1 classification, so an export says machine again. Only on
  photos this package brought: a photo that was already here keeps its own detections.
- event-level human observations: the verification of each photo of that deployment in the event's time span
  that has no media-level human observation of its own.
- ``unknown`` and ``unclassified`` have no Addax equivalent: skipped and counted.
- events: the photos finished here are grouped as their media-level observations' eventID says (one Addax
  event per camera and eventID), whatever this project's sequence gap, so the events an export describes are
  the events it imports; a photo the package puts in no event joins one by the project's gap, as intake would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import asyncpg

from addax.domain.camtrap_package import Observation, observation_from, vernacular_names
from addax.domain.privacy import uncovered
from addax.domain.sequences import BoxSeen, photo_evidence
from addax.domain.verification import MAX_NOTES, VerifiedBox
from addax.store import detections, events, projects
from addax.store.accounts import VERIFYING_ROLES
from addax.store.camtrap_check import Checked, Progress
from addax.store.camtrap_files import PackageFiles
from addax.store.objects import ObjectMissing, ObjectStore

if TYPE_CHECKING:
    from addax.store.camtrap_import import Placed, Tally

# A photo's thumbnail and annotated copies from its bytes, its boxes (label, score, bbox, caption) and the
# project's threshold; the caller gives addax.derivatives' (the store does not draw pictures).
Box = tuple[str, float, tuple[float, float, float, float], str]
Render = Callable[[bytes, Sequence[Box], float], tuple[bytes, bytes]]
WHOLE_PHOTO = (0.0, 0.0, 1.0, 1.0)


class ObservationImport:
    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        project_id: int,
        package: str,
        verifier_id: int | None,
        checked: Checked,
        tally: Tally,
    ) -> None:
        self.pool, self.project_id, self.package, self.verifier_id = pool, project_id, package, verifier_id
        self.checked, self.tally = checked, tally
        self.names = vernacular_names(checked.descriptor)
        self.verified: set[int] = set()  # images whose verification this import wrote to
        self._ours: dict[int, bool] = {}  # image -> may this package write its verification / detections
        self._members: dict[str, int | None] = {}
        self.processed: dict[int, datetime] = {}  # image -> its machine observations' latest classification time
        self.package_events: dict[int, str] = {}  # image -> the eventID its media-level observations give
        self._formed: dict[tuple[int, str], int] = {}  # (camera, package eventID) -> the event made of it here

    async def run(
        self, files: PackageFiles, media: dict[str, int], placed: dict[str, Placed], progress: Progress
    ) -> None:
        rows = await self.pool.fetch(
            """SELECT source_id FROM camtrap_imported
               WHERE project_id = $1 AND package = $2 AND kind = 'observation'""",
            self.project_id,
            self.package,
        )
        known = {row["source_id"] for row in rows}
        # Verifications an earlier run of this package wrote but died before summarising (labels, taxa): a photo
        # verified as an animal must not stay labelled blank.
        unsummarised = await self.pool.fetch(
            """SELECT i.id FROM camtrap_imported m JOIN images i ON i.id = m.target_id
               JOIN verifications v ON v.image_id = i.id
               WHERE m.project_id = $1 AND m.package = $2 AND m.kind = 'media' AND NOT i.verified""",
            self.project_id,
            self.package,
        )
        self.verified.update(int(row["id"]) for row in unsummarised)
        tick = progress("observations", self.checked.rows.get("observations"))
        for line, _, row in files.rows(self.checked.paths["observations"]):
            tick()
            if line in self.checked.invalid["observations"]:
                continue
            observation = observation_from(row)
            if observation.id in known:
                self.tally.observations_known += 1
                self._recall(observation, media)  # for photos an earlier run left unfinished
                continue
            if observation.level == "event":
                await self._event(observation, placed)
            elif (image_id := media.get(observation.media_id or "")) is None:
                self._skip(observation, f"its media {observation.media_id} was not imported")
            else:
                if observation.event_id:
                    self.package_events.setdefault(image_id, observation.event_id)
                if observation.method == "machine":
                    await self._machine(observation, image_id)
                else:
                    await self._human(observation, [image_id])

    def _recall(self, observation: Observation, media: dict[str, int]) -> None:
        """What an observation imported before tells the finishing of its photo: its event, when the model ran."""
        if observation.level == "event" or (image_id := media.get(observation.media_id or "")) is None:
            return
        if observation.event_id:
            self.package_events.setdefault(image_id, observation.event_id)
        if observation.method == "machine" and observation.classified_at is not None:
            latest = self.processed.get(image_id)
            self.processed[image_id] = max(latest or observation.classified_at, observation.classified_at)

    async def _member(self, classified_by: str | None) -> int | None:
        """The project member whose e-mail is ``classifiedBy`` (a package from another Addax names them so), when
        they may verify this project's photos: a package cannot make a viewer (or a disabled user) a verifier."""
        if not classified_by or "@" not in classified_by:
            return None
        if classified_by not in self._members:
            found = await self.pool.fetchval(
                """SELECT u.id FROM users u JOIN memberships m ON m.user_id = u.id AND m.project_id = $2
                   WHERE lower(u.email) = lower($1) AND NOT u.disabled AND m.role::text = ANY($3::text[])""",
                classified_by,
                self.project_id,
                sorted(VERIFYING_ROLES),
            )
            self._members[classified_by] = int(found) if found is not None else None
        return self._members[classified_by]

    def _skip(self, observation: Observation, why: str) -> None:
        self.tally.observations_skipped += 1
        self.tally.note(f"observation {observation.id}: {why}")

    async def _may_write(self, connection: asyncpg.Connection, image_id: int, *, machine: bool) -> bool:
        """Whether the photo is this package's to describe: brought by it, or (for a verification) not yet
        verified here by anyone but this package."""
        key = -image_id if machine else image_id
        if key not in self._ours:
            brought = """EXISTS (SELECT 1 FROM camtrap_imported WHERE project_id = $2 AND package = $3
                                 AND kind = 'media' AND target_id = $1 AND created)"""
            unverified = "NOT EXISTS (SELECT 1 FROM verifications WHERE image_id = $1)"
            query = f"SELECT {brought}" if machine else f"SELECT {brought} OR {unverified}"
            self._ours[key] = bool(await connection.fetchval(query, image_id, self.project_id, self.package))
        return self._ours[key]

    async def _human(self, observation: Observation, image_ids: Iterable[int]) -> None:
        if observation.label is None and observation.type != "blank":
            self._skip(observation, f"observationType {observation.type} has no Addax equivalent")
            return
        box = (
            []
            if observation.label is None
            else [
                VerifiedBox(
                    detection=None,
                    label=observation.label,
                    taxon=observation.scientific_name,
                    common_name=self.names.get(observation.scientific_name or ""),
                    count=observation.count or 1,
                    bbox=observation.bbox,
                ).to_json()
            ]
        )
        member = await self._member(observation.classified_by)
        notes = "; ".join(
            part
            for part in (
                f"classified by {observation.classified_by}" if observation.classified_by and not member else "",
                observation.comments or "",
            )
            if part
        )
        written = 0
        async with self.pool.acquire() as connection, connection.transaction():
            for image_id in image_ids:
                if not await self._may_write(connection, image_id, machine=False):
                    continue
                await connection.execute(
                    """INSERT INTO verifications (image_id, boxes, blank, notes, verified_by, verified_at)
                       VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))
                       ON CONFLICT (image_id) DO UPDATE SET
                           boxes = verifications.boxes || EXCLUDED.boxes,
                           blank = jsonb_array_length(verifications.boxes || EXCLUDED.boxes) = 0,
                           notes = CASE WHEN strpos(verifications.notes, EXCLUDED.notes) > 0
                                        THEN verifications.notes
                                        ELSE left(concat_ws('; ', nullif(verifications.notes, ''), EXCLUDED.notes),
                                                  $7) END,
                           verified_at = greatest(verifications.verified_at, EXCLUDED.verified_at)""",
                    image_id,
                    box,
                    not box,
                    notes[:MAX_NOTES],
                    member or self.verifier_id,
                    observation.classified_at,
                    MAX_NOTES,
                )
                self.verified.add(image_id)
                written += 1
            target = next(iter(image_ids), None) if observation.level == "media" else None
            await self._remember(connection, observation, target)
        if written:
            self.tally.verifications += 1
        else:
            self._skip(observation, "the photo was already verified on this server (kept)")

    async def _machine(self, observation: Observation, image_id: int) -> None:
        async with self.pool.acquire() as connection, connection.transaction():
            if not await self._may_write(connection, image_id, machine=True):
                self._skip(observation, "the photo was already here: its own detections are kept")
                return
            if observation.label is not None:  # a blank machine observation is a photo without boxes
                await self._detection(connection, observation, image_id)
            if observation.classified_at is not None:  # when the model ran: the photo's processed_at
                latest = self.processed.get(image_id)
                self.processed[image_id] = max(latest or observation.classified_at, observation.classified_at)
            await self._remember(connection, observation, image_id)
        self.tally.detections += 1

    async def _detection(self, connection: asyncpg.Connection, observation: Observation, image_id: int) -> None:
        model = observation.classified_by or "camtrap-dp"
        score = observation.probability if observation.probability is not None else 1.0
        detection_id = await connection.fetchval(
            """INSERT INTO detections (image_id, index, label, score, bbox, model)
               VALUES ($1, (SELECT coalesce(max(index) + 1, 0) FROM detections WHERE image_id = $1), $2, $3, $4, $5)
               RETURNING id""",
            image_id,
            observation.label,
            score,
            list(observation.bbox or WHOLE_PHOTO),
            model,
        )
        if observation.scientific_name:
            await connection.execute(
                """INSERT INTO classifications (detection_id, rank, taxon, common_name, score, model)
                   VALUES ($1, 1, $2, $3, $4, $5)""",
                detection_id,
                observation.scientific_name,
                self.names.get(observation.scientific_name),
                score,
                model,
            )

    async def _event(self, observation: Observation, placed: dict[str, Placed]) -> None:
        where = placed.get(observation.deployment_id)
        if observation.method == "machine" or where is None:
            why = "a machine observation of a whole event" if where else "its deployment was not imported"
            self._skip(observation, f"{why} is not imported")
            return
        rows = await self.pool.fetch(
            """SELECT m.source_id, m.target_id FROM camtrap_imported m JOIN images i ON i.id = m.target_id
               WHERE m.project_id = $1 AND m.package = $2 AND m.kind = 'media' AND i.deployment_id = $3
                 AND i.taken_at BETWEEN $4 AND $5""",
            self.project_id,
            self.package,
            where.deployment_id,
            observation.event_start,
            observation.event_end,
        )
        # Photos with media-level observations of their own (a person's or a model's) are described by those.
        observed = self.checked.human_media | self.checked.machine_media
        targets = [row["target_id"] for row in rows if row["source_id"] not in observed]
        if not rows:  # not remembered: an import that brings the photos later applies it
            self._skip(observation, "none of its event's photos were imported")
            return
        if not targets:
            async with self.pool.acquire() as connection:
                await self._remember(connection, observation, None)
            self.tally.events_covered += 1  # every photo of the event has observations of its own
            return
        await self._human(observation, targets)

    async def _remember(self, connection: asyncpg.Connection, observation: Observation, target: int | None) -> None:
        await connection.execute(
            """INSERT INTO camtrap_imported (project_id, package, kind, source_id, target_id)
               VALUES ($1, $2, 'observation', $3, $4) ON CONFLICT DO NOTHING""",
            self.project_id,
            self.package,
            observation.id,
            target,
        )

    async def finish(self, objects: ObjectStore, finishing: list[int], render: Render | None) -> None:
        """Thumbnails, events and summaries of the photos stored done; the verified photos' labels and taxa."""
        settings = await projects.pipeline_settings(self.pool, self.project_id)
        for image_id in finishing:
            await self._finish(objects, image_id, settings, render)
        for image_id in self.verified:
            await self._summarise_verification(image_id)

    async def _finish(self, objects: ObjectStore, image_id: int, settings: Any, render: Render | None) -> None:
        image = await self.pool.fetchrow("SELECT camera_id, taken_at, original_key FROM images WHERE id = $1", image_id)
        boxes = await detections.boxes_of(self.pool, image_id)
        species = await detections.species_of(self.pool, image_id)
        keys: tuple[str | None, str | None] = (None, None)
        try:
            if render is None:
                raise ValueError("not asked for")
            data = await objects.read(image["original_key"])
            shown = [(box.label, box.score, box.bbox, _caption(box, species)) for box in boxes]
            thumbnail, annotated = await asyncio.to_thread(render, data, shown, settings.detection_threshold)
        except (ObjectMissing, OSError, ValueError) as error:  # the photo stays without thumbnails
            self.tally.note(f"image {image_id}: no thumbnail ({error})")
        else:
            base = f"derived/{self.project_id}/{image_id % 1000:03d}/{image_id}"  # as the finisher names them
            keys = (f"{base}/thumbnail.jpg", f"{base}/annotated.jpg")
            await objects.put_bytes(keys[0], thumbnail)
            await objects.put_bytes(keys[1], annotated)
        seen = [BoxSeen(box.label, box.score, *species.get(box.index, (None, None, 0.0))[:2]) for box in boxes]
        async with self.pool.acquire() as connection, connection.transaction():
            # stage = stage fires summarise_image (migration 008): labels, taxa and best score from the boxes
            await connection.execute(
                """UPDATE images SET thumbnail_key = $2, annotated_key = $3, stage = stage,
                       processed_at = coalesce($4, now())
                   WHERE id = $1""",
                image_id,
                *keys,
                self.processed.get(image_id),
            )
            if image["camera_id"] is not None and image["taken_at"] is not None:
                evidence = photo_evidence(seen, settings.detection_threshold)
                grouped = self.package_events.get(image_id)
                if grouped is None:  # the package says no event: this project's gap makes it, as intake would
                    await events.join_event(
                        connection,
                        image_id=image_id,
                        project_id=self.project_id,
                        camera_id=image["camera_id"],
                        taken_at=image["taken_at"],
                        gap_s=settings.sequence_gap_s,
                        evidence=evidence,
                    )
                else:  # the package's events are data (its source's gap, or a person's grouping): kept as they are
                    key = (image["camera_id"], grouped)
                    self._formed[key] = await events.add_to_event(
                        connection,
                        image_id=image_id,
                        project_id=self.project_id,
                        camera_id=image["camera_id"],
                        taken_at=image["taken_at"],
                        event_id=self._formed.get(key),
                        evidence=evidence,
                    )

    async def _summarise_verification(self, image_id: int) -> None:
        """The photo's labels and taxa are the verification's, as ``verifications.save`` leaves them."""
        async with self.pool.acquire() as connection, connection.transaction():
            row = await connection.fetchrow("SELECT boxes, blank FROM verifications WHERE image_id = $1", image_id)
            boxes = [] if row["blank"] else row["boxes"]
            model = await connection.fetch(
                "SELECT index, label::text, score FROM detections WHERE image_id = $1", image_id
            )
            missed = uncovered(
                ((box.get("detection"), box["label"]) for box in boxes),
                {entry["index"]: (entry["label"], entry["score"]) for entry in model},
            )
            await connection.execute(
                """UPDATE images SET verified = true, labels = $2, taxa = $3, updated_at = now(),
                       people_unblurred = people_unblurred OR $4
                   WHERE id = $1""",
                image_id,
                sorted({box["label"] for box in boxes}),
                sorted({box["taxon"] for box in boxes if box.get("taxon")}),
                missed,
            )


def _caption(box: detections.StoredBox, species: dict[int, tuple[str, str | None, float]]) -> str:
    named = species.get(box.index)
    if named is None:
        return f"{box.label} {box.score:.2f}"
    return f"{named[1] or named[0]} {named[2]:.2f}"
