"""The pipeline in-process against a real PostgreSQL and real (small) ONNX models: stored -> done, and its faults."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from addax.actors.stage import StagePolicy
from addax.config import Config, General, Models
from addax.pipeline import Pipeline, start_pipeline
from addax.runtime.broadcast import Broadcast
from addax.store import work
from addax.store.object_fs import FilesystemObjectStore
from tests.actors.conftest import Intake
from tests.domain.jpeg_factory import trail_photo
from tests.models.graphs import FakeBox, classifier_model, detector_model
from tests.waiting import eventually

FAST = StagePolicy(poll_s=0.2, lease_s=10, retry_base_s=0.05, breaker_after=3, breaker_cooldown_s=0.3)

# A 1920x1080 photo in a 64-pixel input: scale 1/30, 64x36 placed at y = 14.
# Animal box centre (32, 32), 16x8 -> x 24..40, y 28..36 in the input -> x 0.375..0.625, y (14/36)..(22/36).
ANIMAL = FakeBox(32, 32, 16, 8, 0, 0.9)
# Person box centre (8, 24), 8x8 -> x 4..12, y 20..28 -> x 0.0625..0.1875, y (6/36)..(14/36).
PERSON = FakeBox(8, 24, 8, 8, 1, 0.8)


@dataclass
class Line:
    intake: Intake
    models_dir: Path
    pipeline: Pipeline
    events: Broadcast
    objects: FilesystemObjectStore

    async def stages(self) -> dict[str, int]:
        rows = await self.intake.pool.fetch(
            "SELECT stage::text, count(*) AS n FROM images WHERE project_id = $1 GROUP BY stage",
            self.intake.project_id,
        )
        return {row["stage"]: row["n"] for row in rows}

    async def all_in(self, stage: str, count: int, *, timeout: float = 60) -> None:
        async def reached() -> bool:
            return (await self.stages()).get(stage, 0) == count

        await eventually(reached, timeout=timeout, what=f"{count} images in {stage} (now {await self.stages()})")

    async def send_photos(self, count: int, *, cameras: int = 1) -> None:
        for index in range(count):
            name, data = trail_photo(index, cameras)
            outcome = await self.intake.ingest(name, data)
            assert outcome.kind == "stored", outcome


def config_for(intake: Intake, models_dir: Path) -> Config:
    return Config(
        general=General(data_dir=str(intake.data_dir)),
        models=Models(dir=str(models_dir), batch_size=4, batch_wait_ms=5, providers=["CPUExecutionProvider"]),
    )


async def start_line(intake: Intake, models_dir: Path, **options: Any) -> Line:
    events = Broadcast()
    objects = FilesystemObjectStore(intake.data_dir / "objects")
    pipeline = await start_pipeline(
        intake.supervisor,
        config_for(intake, models_dir),
        pool=intake.pool,
        objects=objects,
        worker=f"test-{intake.project}",
        publish=events.publish,
        policy=options.pop("policy", FAST),
        **options,
    )
    return Line(intake, models_dir, pipeline, events, objects)


@pytest.fixture
async def line(intake: Intake) -> AsyncIterator[Line]:
    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL, PERSON], name="md")
    yield await start_line(intake, models_dir)


def _close(actual: list[float], expected: list[float]) -> bool:
    return bool(np.allclose(actual, expected, atol=2e-3))


async def test_photos_go_from_stored_to_done_with_boxes_derivatives_and_one_event(line: Line) -> None:
    with line.events.subscribe() as subscription:
        await line.send_photos(3)  # one camera, 30 s apart: one event with the 60 s gap
        await line.all_in("done", 3)
        processed = [await subscription.next() for _ in range(3)]
    pool = line.intake.pool
    assert {event.type for event in processed} == {"image.processed"}
    rows = await pool.fetch(
        """SELECT d.image_id, d.label::text, d.score, d.bbox FROM detections d JOIN images i ON i.id = d.image_id
           WHERE i.project_id = $1 ORDER BY d.image_id, d.index""",
        line.intake.project_id,
    )
    assert len(rows) == 6, "two boxes per photo, once each"
    animal, person = rows[0], rows[1]
    assert (animal["label"], round(animal["score"], 3)) == ("animal", 0.9)
    assert _close(animal["bbox"], [0.375, 14 / 36, 0.25, 8 / 36])
    assert (person["label"], round(person["score"], 3)) == ("person", 0.8)
    assert _close(person["bbox"], [0.0625, 6 / 36, 0.125, 8 / 36])
    events = await pool.fetch("SELECT * FROM events WHERE project_id = $1", line.intake.project_id)
    assert len(events) == 1
    assert (events[0]["image_count"], events[0]["label"], round(events[0]["score"], 2)) == (3, "animal", 0.9)
    images = await pool.fetch(
        "SELECT id, thumbnail_key, annotated_key, event_id, processed_at FROM images WHERE project_id = $1",
        line.intake.project_id,
    )
    for image in images:
        assert image["event_id"] == events[0]["id"] and image["processed_at"] is not None
        thumbnail = Image.open(io.BytesIO(await line.objects.read(image["thumbnail_key"])))
        assert max(thumbnail.size) == 300
        annotated = Image.open(io.BytesIO(await line.objects.read(image["annotated_key"])))
        assert annotated.size == (1920, 1080), "a 1080p photo is annotated at its own size"


async def test_people_are_blurred_in_what_users_see(line: Line) -> None:
    await line.send_photos(1)
    await line.all_in("done", 1)
    row = await line.intake.pool.fetchrow(
        "SELECT original_key, annotated_key FROM images WHERE project_id = $1", line.intake.project_id
    )
    original = np.asarray(Image.open(io.BytesIO(await line.objects.read(row["original_key"]))))
    annotated = np.asarray(Image.open(io.BytesIO(await line.objects.read(row["annotated_key"]))))
    # The person's box, x 0.0625..0.1875, y 0.167..0.389, inside its outline: 1920x1080 pixels.
    inside = (slice(int(0.20 * 1080), int(0.36 * 1080)), slice(int(0.08 * 1920), int(0.17 * 1920)))
    detail_before = np.abs(np.diff(original[inside].astype(float), axis=1)).mean()
    detail_after = np.abs(np.diff(annotated[inside].astype(float), axis=1)).mean()
    assert detail_after < detail_before / 4, (detail_before, detail_after)


async def test_without_a_detector_photos_wait_in_stored_and_go_on_once_one_is_added(intake: Intake) -> None:
    models_dir = intake.data_dir / "models"
    line = await start_line(intake, models_dir)
    health = {entry.name: entry for entry in intake.supervisor.health()}
    assert "no detector configured" in (health["detector"].detail or "")
    assert "addax models add" in (health["detector"].detail or "")
    assert health["detector"].healthy, "no model is a state of the install, not a failure"
    await line.send_photos(2)
    assert await line.stages() == {"stored": 2}
    detector_model(models_dir, boxes=[ANIMAL], name="md")  # what `addax models add` writes
    await line.all_in("done", 2, timeout=30)
    assert {entry.name: entry for entry in intake.supervisor.health()}["detector"].detail is None


async def test_a_photo_that_cannot_be_decoded_is_a_dead_letter_and_can_be_retried(intake: Intake) -> None:
    models_dir = intake.data_dir / "models"
    line = await start_line(intake, models_dir)
    await line.send_photos(2)
    keys = await intake.pool.fetch("SELECT id, original_key FROM images ORDER BY id")
    damaged = intake.data_dir / "objects" / keys[0]["original_key"]
    sound = damaged.read_bytes()
    damaged.write_bytes(sound[:2000])  # cut behind Addax's back: the decoder runs out of data
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    await line.all_in("done", 1, timeout=30)
    await line.all_in("failed", 1)
    letters = await work.dead_letters(intake.pool, projects=[intake.project_id])
    assert [(letter["image_id"], letter["stage"]) for letter in letters] == [(keys[0]["id"], "detect")]
    assert "cannot be decoded" in letters[0]["error"] or "truncated" in letters[0]["error"]
    failed = await intake.pool.fetchrow("SELECT blur_all, attempts FROM images WHERE id = $1", keys[0]["id"])
    assert failed["blur_all"] and failed["attempts"] == 1, "unusable at once: no retries"

    damaged.write_bytes(sound)  # the operator restores the file
    assert await work.retry_dead_letter(intake.pool, letters[0]["id"]) == keys[0]["id"]
    await line.all_in("done", 2)
    assert await work.dead_letters(intake.pool, projects=[intake.project_id]) == []


async def test_a_model_that_keeps_failing_opens_the_circuit_and_images_wait(intake: Intake) -> None:
    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    line = await start_line(intake, models_dir)
    engine = line.pipeline.detector
    assert engine is not None
    failing = {"on": True}
    real_infer = engine._infer

    def infer(model: Any, batch: list[Any]) -> Any:
        if failing["on"]:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return real_infer(model, batch)

    engine._infer = infer
    with line.events.subscribe() as subscription:
        await line.send_photos(6)

        def circuit_open() -> bool:
            detail = {entry.name: entry for entry in intake.supervisor.health()}["detector"].detail or ""
            return detail.startswith("circuit open since")

        await eventually(circuit_open, timeout=20, what="the detector's circuit to open")
        degraded = await subscription.next()
        assert degraded.type == "system.degraded" and degraded.data["stage"] == "detect"
    health = {entry.name: entry for entry in intake.supervisor.health()}
    assert not health["detector"].healthy
    assert "illegal memory access" in (health["detector"].detail or "")
    assert (await line.stages()).get("failed", 0) == 0, "the model's fault is not the images'"
    failing["on"] = False  # the GPU recovers: a probe succeeds and the circuit closes
    await line.all_in("done", 6, timeout=30)
    assert {entry.name: entry for entry in intake.supervisor.health()}["detector"].healthy


async def test_one_bad_image_in_a_batch_fails_alone(intake: Intake) -> None:
    models_dir = intake.data_dir / "models"
    line = await start_line(intake, models_dir, policy=StagePolicy(poll_s=0.2, retry_base_s=0.05, max_attempts=2))
    engine = line.pipeline.detector
    assert engine is not None
    real_infer: Callable[[Any, list[Any]], Any] = engine._infer
    sizes: list[int] = []

    def infer(model: Any, batch: list[Any]) -> Any:
        sizes.append(len(batch))
        if any(float(tensor[:, 28:36, 28:36].min()) > 0.99 for tensor in batch):  # a white photo poisons its batch
            raise RuntimeError("the model fell over")
        return real_infer(model, batch)

    engine._infer = infer
    white = io.BytesIO()
    Image.new("RGB", (640, 480), (255, 255, 255)).save(white, "JPEG")
    await line.send_photos(5)  # they wait (no detector yet), so the detector finds them all at once
    outcome = await intake.ingest("white.jpg", white.getvalue())
    assert outcome.kind == "stored"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    await line.all_in("done", 5, timeout=30)
    await line.all_in("failed", 1)
    failed = await intake.pool.fetchval("SELECT original_name FROM images WHERE stage = 'failed'")
    assert failed == "white.jpg"
    assert 1 < max(sizes) <= 4, "photos were batched, up to models.batch_size"
    assert sizes.count(1) >= 2, "the poisoned batch was split down to the bad photo"


async def test_a_classifier_names_the_animal_boxes_with_a_top_five(intake: Intake) -> None:
    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL, PERSON], name="md")
    labels = ["Capreolus capreolus|roe deer", "Sus scrofa|wild boar", "Vulpes vulpes|red fox", "Canis lupus|wolf",
              "Lynx lynx|lynx", "Meles meles|badger"]  # fmt: skip
    classifier_model(models_dir, labels=labels, logits=[0.0, 3.0, 1.0, 2.0, -1.0, 0.5], name="species")
    line = await start_line(intake, models_dir)
    await line.send_photos(2)
    await line.all_in("done", 2)
    rows = await intake.pool.fetch(
        """SELECT d.image_id, d.label::text, c.rank, c.taxon, c.common_name, c.score FROM classifications c
           JOIN detections d ON d.id = c.detection_id ORDER BY d.image_id, c.rank"""
    )
    assert {row["label"] for row in rows} == {"animal"}, "people are not classified"
    first = [row for row in rows if row["image_id"] == rows[0]["image_id"]]
    assert [row["taxon"] for row in first] == ["Sus scrofa", "Canis lupus", "Vulpes vulpes", "Meles meles",
                                                "Capreolus capreolus"]  # fmt: skip
    logits = np.array([0.0, 3.0, 1.0, 2.0, -1.0, 0.5])
    softmax = np.exp(logits) / np.exp(logits).sum()
    assert first[0]["score"] == pytest.approx(softmax[1], abs=1e-3)
    event = await intake.pool.fetchrow("SELECT taxon, common_name FROM events")
    assert (event["taxon"], event["common_name"]) == ("Sus scrofa", "wild boar")
    processed = await intake.pool.fetchval("SELECT count(*) FROM images WHERE stage = 'done'")
    assert processed == 2


async def test_a_project_species_list_renormalises_the_scores(intake: Intake) -> None:
    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    labels = ["Capreolus capreolus|roe deer", "Sus scrofa|wild boar", "Canis lupus|wolf"]
    classifier_model(models_dir, labels=labels, logits=[1.0, 3.0, 2.0], name="species")
    await intake.pool.execute(
        "UPDATE projects SET allowed_species = $2 WHERE id = $1", intake.project_id, ["Capreolus capreolus", "wolf"]
    )
    line = await start_line(intake, models_dir)
    await line.send_photos(1)
    await line.all_in("done", 1)
    rows = await intake.pool.fetch("SELECT taxon, score FROM classifications ORDER BY rank")
    # Over the allowed two only: e^2 / (e^1 + e^2) = 0.731 for the wolf.
    assert [row["taxon"] for row in rows] == ["Canis lupus", "Capreolus capreolus"]
    assert rows[0]["score"] == pytest.approx(np.e**2 / (np.e + np.e**2), abs=1e-3)


async def test_events_are_relayed_from_postgresql(line: Line) -> None:
    with line.events.subscribe() as subscription:
        await line.send_photos(1)
        event = await subscription.next()
    assert event.type == "image.processed"
    assert event.data["project_id"] == line.intake.project_id
    assert event.data["labels"] == ["animal", "person"]
    json.dumps(event.data)  # serialisable as it goes out on /api/ws


async def test_a_video_is_detected_through_its_keyframes_and_its_boxes_carry_their_time(line: Line) -> None:
    from tests.actors.test_ingestor import tiny_mp4

    outcome = await line.intake.ingest("CLIP0001.MP4", tiny_mp4(frames=120))  # 12 s: keyframes at 0, 5 and 10 s
    assert outcome.kind == "stored"
    await line.all_in("done", 1)
    rows = await line.intake.pool.fetch(
        "SELECT label::text, frame_offset_s FROM detections WHERE image_id = $1 ORDER BY frame_offset_s, label",
        outcome.image_id,
    )
    assert [(row["label"], row["frame_offset_s"]) for row in rows] == [
        ("animal", 0.0), ("person", 0.0), ("animal", 5.0), ("person", 5.0), ("animal", 10.0), ("person", 10.0),
    ]  # fmt: skip
    video = await line.intake.pool.fetchrow(
        "SELECT kind::text, thumbnail_key FROM images WHERE id = $1", outcome.image_id
    )
    assert video["kind"] == "video" and video["thumbnail_key"] is not None, "a keyframe shows the video"


@pytest.mark.parametrize("kind", ["corrupt", "wrong-shape", "missing"])
async def test_a_broken_detector_is_one_clear_line_naming_its_file_and_photos_wait(
    intake: Intake, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.models.graphs import broken_model

    models_dir = intake.data_dir / "models"
    broken_model(models_dir, kind, name="md")
    line = await start_line(intake, models_dir)
    health = {entry.name: entry for entry in intake.supervisor.health()}
    engine = health["detector-model"]
    assert not engine.healthy and str(models_dir / "md.onnx") in (engine.detail or "")
    assert (health["detector"].detail or "").startswith("waiting: ")
    said = [record for record in caplog.records if record.getMessage() == "model cannot be used"]
    assert len(said) == 1 and str(models_dir / "md.onnx") in said[0].__dict__["error"]
    await line.send_photos(1)
    assert await line.stages() == {"stored": 1}, "photos wait for a usable model"
