"""The processing pipeline wired from a config: models, the stage actors, the notification relay.

Shared by ``addax run`` (every role, in the service) and ``addax worker`` (the roles asked for, in another
process or on another machine against the same PostgreSQL and object store)::

    relay ─► wakes ─► detector ──(batches)──► detector-model
                      classifier ─(batches)─► classifier-model
                      finisher (derivatives, events, done)
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import asyncpg

from addax.actors.classifier import ClassifierEngine, ClassifierStage
from addax.actors.detector import DetectorEngine, DetectorStage, detect_bytes
from addax.actors.finisher import FinisherStage
from addax.actors.inference import serve
from addax.actors.relay import Relay
from addax.actors.stage import Publish, StagePolicy
from addax.config import Config
from addax.models.imaging import decode_rgb
from addax.models.manifest import Manifest
from addax.models.registry import (
    NO_DETECTOR,
    Analysis,
    Classifier,
    Detector,
    ModelUnavailable,
    pick_manifest,
)
from addax.runtime import Supervisor
from addax.runtime.signal import Signal
from addax.store.objects import ObjectStore

ROLES = ("detect", "classify", "finish", "notify")
NO_CLASSIFIER = "no classifier configured: animals keep the label 'animal' (addax models add ... --family deepfaune)"


@dataclass(frozen=True, slots=True)
class Pipeline:
    detector: DetectorEngine | None
    classifier: ClassifierEngine | None
    prepare_pool: ThreadPoolExecutor
    done: Signal  # notified when an image anywhere reaches ``done`` (the notifier's cue)


def worker_name(kind: str) -> str:
    """Leases carry who holds them: the service keeps one name per host, so it takes back its own at start; a
    worker's is its own (containers share pid 1 and sometimes a host name)."""
    host = socket.gethostname()
    return f"{host}/run" if kind == "run" else f"{host}/worker-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def start_pipeline(
    supervisor: Supervisor,
    config: Config,
    *,
    pool: asyncpg.Pool,
    objects: ObjectStore,
    roles: tuple[str, ...] = ROLES,
    worker: str,
    publish: Publish | None = None,
    relay_events: bool = True,
    policy: StagePolicy | None = None,
) -> Pipeline:
    models = config.models
    threads = models.prepare_threads or (os.cpu_count() or 2)
    prepare_pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="prepare")
    wake = {"stored": Signal(), "detected": Signal(), "classified": Signal(), "done": Signal()}
    await supervisor.start(Relay(pool=pool, wake=wake, publish=publish if relay_events else None))
    common = {"pool": pool, "worker": worker, "publish": publish, "policy": policy}
    detector = classifier = None
    if "detect" in roles:
        detector = serve(
            name="detector-model",
            load=lambda: _load_detector(config),
            batch_size=models.batch_size,
            batch_wait_ms=models.batch_wait_ms,
            missing=NO_DETECTOR,
            max_urgent=models.detect_queue_limit,
        )
        await supervisor.start(detector)
        await supervisor.start(
            DetectorStage(engine=detector, objects=objects, prepare_pool=prepare_pool, wake=wake["stored"], **common)
        )
    if "classify" in roles:
        classifier = serve(
            name="classifier-model",
            load=lambda: _load_classifier(config),
            batch_size=models.batch_size * 4,  # crops are small: larger batches
            batch_wait_ms=models.batch_wait_ms,
            missing=NO_CLASSIFIER,
        )
        await supervisor.start(classifier)
        await supervisor.start(
            ClassifierStage(
                engine=classifier, objects=objects, prepare_pool=prepare_pool, wake=wake["detected"], **common
            )
        )
    if "finish" in roles:
        await supervisor.start(
            FinisherStage(objects=objects, prepare_pool=prepare_pool, wake=wake["classified"], **common)
        )
    return Pipeline(detector=detector, classifier=classifier, prepare_pool=prepare_pool, done=wake["done"])


def _load_detector(config: Config) -> Detector | None:
    manifest = pick_manifest(config.models_path, config.models.detector, "detector")
    return Detector.open(manifest, config.models.providers) if manifest else None


def _load_classifier(config: Config) -> Classifier | None:
    manifest = pick_manifest(config.models_path, config.models.classifier, "classifier")
    return Classifier.open(manifest, config.models.providers) if manifest else None


async def analyse(pipeline: Pipeline, data: bytes, *, threshold: float = 0.5, urgent: bool = True) -> Analysis:
    """Detect (and classify the animals of) one photo now, sharing the models' batches with the pipeline.

    Raises :class:`UnreadableImage` for bytes that are not a usable photo, :class:`ModelUnavailable` without a
    detector, :class:`Overloaded` when too many callers already wait.
    """
    if pipeline.detector is None:
        raise ModelUnavailable("this process does not run the detector")
    if urgent:
        pipeline.detector.admit()  # shed load before the photo is decoded, not after
    detector, boxes, detect_ms = await detect_bytes(pipeline.detector, pipeline.prepare_pool, data, urgent=urgent)
    classifier = pipeline.classifier.model if pipeline.classifier is not None else None
    named: list[dict[str, object]] = []
    classify_ms = 0.0
    animals = [(index, box) for index, box in enumerate(boxes) if box.label == "animal" and box.score >= threshold]
    if classifier is not None and animals and pipeline.classifier is not None:
        loop = asyncio.get_running_loop()
        rgb = await loop.run_in_executor(pipeline.prepare_pool, decode_rgb, data)
        for index, box in animals:
            crop = await loop.run_in_executor(pipeline.prepare_pool, classifier.crop, rgb, box.bbox)
            result = await pipeline.classifier.submit(crop, urgent=urgent)
            classify_ms = max(classify_ms, result.batch_ms)
            guesses = classifier.name_box(result.value, frozenset(), {})
            if guesses:
                best = guesses[0]
                named.append(
                    {
                        "detection": index,
                        "taxon": best.taxon,
                        "common_name": best.common_name,
                        "score": best.score,
                        "model": classifier.name,
                        "alternatives": [
                            {"taxon": g.taxon, "common_name": g.common_name, "score": g.score} for g in guesses[1:]
                        ],
                    }
                )
    return Analysis(
        detections=[{"label": box.label, "score": box.score, "bbox": list(box.bbox)} for box in boxes],
        classifications=named,
        model={
            "detector": _describe(detector.manifest, detector.provider),
            "classifier": _describe(classifier.manifest, classifier.provider) if classifier else None,
        },
        inference_ms=round(detect_ms + classify_ms, 2),
    )


def _describe(manifest: Manifest, provider: str) -> dict[str, object]:
    return {"name": manifest.name, "family": manifest.family, "provider": provider, "input_size": manifest.input_size}
