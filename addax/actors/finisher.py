"""The last stage: the derived images users see, the event the photo belongs to, then ``done``
(and, for a live photo, a turn at the alert rules).

Derived images (thumbnail, annotated, people and vehicles blurred) are written under keys fixed by the image
id, so writing them twice is harmless; then one transaction records their keys, joins the photo to its
camera's event (sequence), moves the image to ``done`` and announces ``image.processed`` to every process.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg

from addax.actors.stage import ImageUnusable, StageActor
from addax.derivatives import Derived, Shown, blurred_stand_in, render
from addax.domain.sequences import BoxSeen, photo_evidence
from addax.store import detections, events, projects, work
from addax.store.objects import ObjectStore
from addax.store.work import Claimed

log = logging.getLogger("addax.pipeline")

MAX_PIXELS = 100_000_000


def derived_keys(project_id: int, image_id: int) -> tuple[str, str]:
    base = f"derived/{project_id}/{image_id % 1000:03d}/{image_id}"
    return f"{base}/thumbnail.jpg", f"{base}/annotated.jpg"


class FinisherStage(StageActor):
    source, target, work_name = "classified", "done", "finish"
    actor_name = "finisher"

    def __init__(self, *, objects: ObjectStore, prepare_pool: ThreadPoolExecutor, **stage: Any) -> None:
        super().__init__(**stage)
        self._objects, self._prepare_pool = objects, prepare_pool

    async def process(self, image: Claimed) -> None:
        settings = await projects.pipeline_settings(self._pool, image.project_id)
        boxes = await detections.boxes_of(self._pool, image.id)
        species = await detections.species_of(self._pool, image.id)
        frame_key, frame_offset = _shown_frame(image, boxes)
        keys: tuple[str | None, str | None] = (None, None)
        if frame_key is not None:
            in_frame = [box for box in boxes if box.frame_offset_s == frame_offset]
            derived = await self._render(frame_key, in_frame, species, settings.detection_threshold)
            keys = await self._store(image, derived)
        seen = [
            BoxSeen(box.label, box.score, *(species[box.index][:2] if box.index in species else (None, None)))
            for box in boxes
        ]
        evidence = photo_evidence(seen, settings.detection_threshold)
        async with work.advancing(self._pool, image.id, self.worker, self.source, self.target) as connection:
            await connection.execute(
                """UPDATE images SET thumbnail_key = $2, annotated_key = $3, alert_pending = realtime
                   WHERE id = $1""",
                image.id,
                *keys,
            )
            event_id = await _join_event(connection, image, settings.sequence_gap_s, evidence)
            await work.announce(
                connection,
                "image.processed",
                {
                    "id": image.id,
                    "project_id": image.project_id,
                    "camera_id": image.camera_id,
                    "event_id": event_id,
                    "realtime": image.realtime,
                    "labels": sorted({box.label for box in boxes if box.score >= settings.detection_threshold}),
                    "species": sorted({name[0] for name in species.values()}),
                    "trace_id": str(image.trace_id),
                },
            )

    async def _render(
        self,
        key: str,
        boxes: list[detections.StoredBox],
        species: dict[int, tuple[str, str | None, float]],
        threshold: float,
    ) -> Derived:
        data = await self._read(key)
        every = [Shown(box.label, box.score, box.bbox) for box in boxes]
        drawn = [
            Shown(box.label, box.score, box.bbox, _caption(box, species.get(box.index)))
            for box in boxes
            if box.score >= threshold
        ]
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._prepare_pool, lambda: render(data, private=every, drawn=drawn, max_pixels=MAX_PIXELS)
            )
        except (OSError, ValueError) as error:
            raise ImageUnusable(f"cannot make the derived images: {error}") from None

    async def _read(self, key: str) -> bytes:
        try:
            return await self._objects.read(key)
        except FileNotFoundError:
            raise ImageUnusable(f"the file is missing from the object store: {key}") from None

    async def _store(self, image: Claimed, derived: Derived) -> tuple[str, str]:
        thumbnail_key, annotated_key = derived_keys(image.project_id, image.id)
        await self._objects.put_bytes(thumbnail_key, derived.thumbnail)
        await self._objects.put_bytes(annotated_key, derived.annotated)
        return thumbnail_key, annotated_key

    async def on_give_up(self, image: Claimed, error: str) -> None:
        await make_blurred_stand_in(self._pool, self._objects, self._prepare_pool, image)


async def make_blurred_stand_in(
    pool: asyncpg.Pool, objects: ObjectStore, prepare_pool: ThreadPoolExecutor, image: Claimed
) -> None:
    """Derived images blurred whole for an image that failed for good (fail closed), when it can be decoded."""
    frame_key, _ = _shown_frame(image, [])
    if frame_key is None:
        return
    try:
        data = await objects.read(frame_key)
        derived = await asyncio.get_running_loop().run_in_executor(
            prepare_pool, lambda: blurred_stand_in(data, max_pixels=MAX_PIXELS)
        )
    except Exception as error:  # nothing decodable to show: users see no picture at all, which is also safe
        log.info("no blurred stand-in for a failed image", extra={"image_id": image.id, "error": str(error)})
        return
    thumbnail_key, annotated_key = derived_keys(image.project_id, image.id)
    await objects.put_bytes(thumbnail_key, derived.thumbnail)
    await objects.put_bytes(annotated_key, derived.annotated)
    await pool.execute(
        "UPDATE images SET thumbnail_key = $2, annotated_key = $3 WHERE id = $1", image.id, thumbnail_key, annotated_key
    )


def _shown_frame(image: Claimed, boxes: list[detections.StoredBox]) -> tuple[str | None, float | None]:
    """The picture the derivatives are made of: the photo, or the video keyframe with the best box."""
    if image.kind != "video":
        return image.original_key, None
    stills = image.exif.get("video", {}).get("keyframes", [])
    if not stills:
        return None, None
    best = boxes[0].frame_offset_s if boxes else float(stills[0]["offset_s"])
    key = next((s["key"] for s in stills if float(s["offset_s"]) == best), stills[0]["key"])
    return str(key), best


def _caption(box: detections.StoredBox, named: tuple[str, str | None, float] | None) -> str:
    if named is None:
        return f"{box.label} {box.score:.2f}"
    taxon, common_name, score = named
    return f"{common_name or taxon} {score:.2f}"


async def _join_event(connection: asyncpg.Connection, image: Claimed, gap_s: int, evidence: Any) -> int | None:
    if image.camera_id is None:
        return None  # no camera: nothing to be in sequence with
    return await events.join_event(
        connection,
        image_id=image.id,
        project_id=image.project_id,
        camera_id=image.camera_id,
        taken_at=image.seen_at,
        gap_s=gap_s,
        evidence=evidence,
    )
