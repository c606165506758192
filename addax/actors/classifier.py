"""The classifier stage: a species (top 5, with scores) for each animal box above the project's threshold.

Crops are cut from the full-resolution photo (or the video keyframe the box was found in), prepared as the
model's manifest says, and classified in batches shared with every other image in flight. The project's
species list and per-species thresholds apply (see ``addax.models.classifiers.name_box``). With no classifier
configured the stage passes images straight on; with a broken one it waits, as the detector does.
"""

from __future__ import annotations

import asyncio

import numpy as np

from addax.actors.inference import ModelEngine
from addax.actors.stage import ImageUnusable, ModelStage
from addax.models.imaging import UnreadableImage, decode_rgb
from addax.models.registry import Classifier
from addax.store import detections, projects, work
from addax.store.work import Claimed

ClassifierEngine = ModelEngine[Classifier, np.ndarray, np.ndarray]


class ClassifierStage(ModelStage[ClassifierEngine]):
    source, target, work_name = "detected", "classified", "classify"
    actor_name = "classifier"

    def unavailable(self) -> str | None:
        return self._engine.problem if self._engine.broken else None

    async def process(self, image: Claimed) -> None:
        classifier = self._engine.model
        guesses: dict[int, list[detections.NewGuess]] = {}
        if classifier is not None:
            settings = await projects.pipeline_settings(self._pool, image.project_id)
            boxes = [
                box
                for box in await detections.boxes_of(self._pool, image.id)
                if box.label == "animal" and box.score >= settings.detection_threshold
            ]
            guesses = await self._classify(classifier, image, boxes, settings)
        async with work.advancing(self._pool, image.id, self.worker, self.source, self.target) as connection:
            if classifier is not None:
                await detections.replace_guesses(connection, image.id, guesses, classifier.name)

    async def _classify(
        self,
        classifier: Classifier,
        image: Claimed,
        boxes: list[detections.StoredBox],
        settings: projects.PipelineSettings,
    ) -> dict[int, list[detections.NewGuess]]:
        loop = asyncio.get_running_loop()
        frames: dict[float | None, np.ndarray] = {}
        for offset in {box.frame_offset_s for box in boxes}:
            frames[offset] = await self._pixels(image, offset)

        async def one(box: detections.StoredBox) -> list[detections.NewGuess]:
            crop = await loop.run_in_executor(self._prepare_pool, classifier.crop, frames[box.frame_offset_s], box.bbox)
            output = await self._engine.submit(crop)
            named = classifier.name_box(output.value, settings.allowed_species, settings.species_thresholds)
            return [detections.NewGuess(g.taxon, g.common_name, g.score) for g in named]

        ranked = await asyncio.gather(*(one(box) for box in boxes))
        return {box.id: guesses for box, guesses in zip(boxes, ranked, strict=True) if guesses}

    async def _pixels(self, image: Claimed, offset: float | None) -> np.ndarray:
        key = image.original_key
        if offset is not None:
            stills = image.exif.get("video", {}).get("keyframes", [])
            key = next((s["key"] for s in stills if float(s["offset_s"]) == offset), key)
        try:
            data = await self._objects.read(key)
            return await asyncio.get_running_loop().run_in_executor(self._prepare_pool, decode_rgb, data)
        except (UnreadableImage, FileNotFoundError) as error:
            raise ImageUnusable(str(error)) from None
