"""The detector stage: boxes (animal, person, vehicle) for every stored photo and video keyframe.

Each image is read and prepared (decode in JPEG draft mode, letterbox) in a thread pool, then handed to the
detector model's batcher, which runs whatever images are waiting as one batch; every box scoring 0.1 or more
is stored and the image moves to ``detected`` in the same transaction. A video's keyframes (written by the
ingestor) go through the same path; their boxes carry the keyframe's time and belong to the video.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from addax.actors.finisher import make_blurred_stand_in
from addax.actors.inference import ModelEngine
from addax.actors.stage import ImageUnusable, ModelStage
from addax.models.detectors import Box
from addax.models.imaging import UnreadableImage
from addax.models.registry import Detector, ModelUnavailable, Prepared
from addax.store import detections, work
from addax.store.work import Claimed

DetectorEngine = ModelEngine[Detector, np.ndarray, np.ndarray]

#: A video's keyframes in preparation or waiting for the model at once (a 1280 tensor is 20 MB).
FRAMES_AT_ONCE = 4


async def detect_bytes(
    engine: DetectorEngine, prepare_pool: ThreadPoolExecutor, data: bytes, *, urgent: bool = False
) -> tuple[Detector, list[Box], float]:
    """Boxes for one photo's bytes and the model time of its batch in ms; :class:`UnreadableImage` if it is none."""
    detector = engine.model
    if detector is None:
        raise ModelUnavailable(engine.problem or "no detector")
    loop = asyncio.get_running_loop()
    prepared: Prepared = await loop.run_in_executor(prepare_pool, detector.prepare, data)
    result = await engine.submit(prepared.tensor, urgent=urgent)
    boxes = await loop.run_in_executor(prepare_pool, detector.boxes, result.value, prepared.geometry)
    return detector, boxes, result.batch_ms


class DetectorStage(ModelStage[DetectorEngine]):
    source, target, work_name = "stored", "detected", "detect"
    actor_name = "detector"

    def unavailable(self) -> str | None:
        return self._engine.problem if self._engine.model is None else None

    async def process(self, image: Claimed) -> None:
        frames = _frames(image)
        if not frames:  # a video none of whose frames could be decoded: nothing was looked at, fail closed
            raise ImageUnusable("the video has no keyframe to look at")
        frames_at_once = asyncio.Semaphore(FRAMES_AT_ONCE)

        async def detect(key: str) -> list[Box]:
            async with frames_at_once:
                return await self._detect(key)

        found = await asyncio.gather(*(detect(key) for _, key in frames))
        model = self._engine.model.name if self._engine.model else ""
        boxes = [
            detections.NewBox(box.label, box.score, box.bbox, offset)
            for (offset, _), frame_boxes in zip(frames, found, strict=True)
            for box in frame_boxes
        ]
        boxes.sort(key=lambda box: -box.score)
        async with work.advancing(self._pool, image.id, self.worker, self.source, self.target) as connection:
            await detections.replace_boxes(connection, image.id, boxes, model)

    async def on_give_up(self, image: Claimed, error: str) -> None:
        await make_blurred_stand_in(self._pool, self._objects, self._prepare_pool, image)

    async def _detect(self, key: str) -> list[Box]:
        try:
            data = await self._objects.read(key)
        except FileNotFoundError:
            raise ImageUnusable(f"the file is missing from the object store: {key}") from None
        try:
            _, boxes, _ = await detect_bytes(self._engine, self._prepare_pool, data)
        except UnreadableImage as error:
            raise ImageUnusable(str(error)) from None
        return boxes


def _frames(image: Claimed) -> list[tuple[float | None, str]]:
    """What to look at: the photo itself, or each of a video's keyframes with its time."""
    if image.kind != "video":
        return [(None, image.original_key)]
    stills = image.exif.get("video", {}).get("keyframes", [])
    return [(float(still["offset_s"]), str(still["key"])) for still in stills]
