"""Failure bookkeeping of the stage actor (real PostgreSQL, real small ONNX model)."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from addax.actors.stage import StagePolicy
from addax.store import work
from tests.actors.conftest import Intake
from tests.actors.test_pipeline import ANIMAL, start_line
from tests.models.graphs import detector_model
from tests.waiting import eventually


def _white() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (255, 255, 255)).save(out, "JPEG")
    return out.getvalue()


async def test_one_poison_photo_alone_becomes_a_dead_letter_not_an_open_circuit(intake: Intake) -> None:
    """Defaults: max_attempts == breaker_after == 5. One photo that always fails, nothing else waiting."""
    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    policy = StagePolicy(poll_s=0.2, retry_base_s=0.05, breaker_cooldown_s=1.0)  # max_attempts=5, breaker_after=5
    line = await start_line(intake, models_dir, policy=policy)
    engine = line.pipeline.detector
    assert engine is not None
    real_infer = engine._infer

    def infer(model: Any, batch: list[Any]) -> Any:
        if any(float(tensor[:, 28:36, 28:36].min()) > 0.99 for tensor in batch):
            raise RuntimeError("the model fell over on this photo")
        return real_infer(model, batch)

    engine._infer = infer
    assert (await intake.ingest("white.jpg", _white())).kind == "stored"

    async def settled() -> bool:
        return await intake.pool.fetchval("SELECT stage::text FROM images") == "failed"

    try:
        await eventually(settled, timeout=15, what="the poison photo to become a dead letter")
    finally:
        row = await intake.pool.fetchrow("SELECT stage::text, attempts, last_error FROM images")
        detail = {e.name: e for e in intake.supervisor.health()}["detector"].detail
        print("\nimage:", dict(row), "\ndetector health:", detail)


async def test_release_keeps_a_fractional_delay(intake: Intake) -> None:
    """work.release's $3 is inferred as int4 (from `$3 > 0`): 0.3 s becomes 0 and the image is due at once."""
    image_id = await intake.pool.fetchval(
        """INSERT INTO images (project_id, sha256, original_name, source, size_bytes, original_key, stage)
           VALUES ($1, $2, 'x.jpg', 'http', 3, 'k', 'stored') RETURNING id""",
        intake.project_id,
        b"\x02" * 32,
    )
    [claimed] = await work.claim(intake.pool, "stored", "w", 1, 60)
    await work.release(intake.pool, "w", claimed.id, retry_in_s=1.5)
    retry_in = await intake.pool.fetchval(
        "SELECT extract(epoch FROM retry_at - now()) FROM images WHERE id = $1", image_id
    )
    assert retry_in is not None and retry_in > 1.2, retry_in


async def test_a_failing_stand_in_does_not_crash_the_stage(intake: Intake) -> None:
    """on_give_up runs under _quietly, which only catches outages: an OSError (disk full) kills the stage's loop."""
    import errno

    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    policy = StagePolicy(poll_s=0.2, retry_base_s=0.05, max_attempts=1, breaker_after=10)
    line = await start_line(intake, models_dir, policy=policy)
    engine = line.pipeline.detector
    assert engine is not None
    real_infer = engine._infer

    def infer(model: Any, batch: list[Any]) -> Any:
        if any(float(tensor[:, 28:36, 28:36].min()) > 0.99 for tensor in batch):
            raise RuntimeError("the model fell over on this photo")
        return real_infer(model, batch)

    async def disk_full(key: str, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    engine._infer = infer
    line.objects.put_bytes = disk_full  # type: ignore[method-assign]
    assert (await intake.ingest("white.jpg", _white())).kind == "stored"
    await line.all_in("failed", 1, timeout=15)

    def stand_in_failed() -> object:
        detector = {e.name: e for e in intake.supervisor.health()}["detector"]
        return "No space left" in (detector.last_error or "") and detector

    detector = await eventually(stand_in_failed, what="the blurred stand-in to fail on the full disk")
    assert detector.restarts == 0 and detector.alive, (detector.restarts, detector.last_error)


async def test_a_video_without_keyframes_is_not_shown_to_viewers_as_checked(intake: Intake) -> None:
    """inspection.keyframes returns () for a video PyAV cannot decode; the video is still stored."""
    import json as _json

    from addax.store import browse
    from tests.actors.test_ingestor import tiny_mp4

    outcome = await intake.ingest("CLIP0001.MP4", tiny_mp4(frames=30))
    assert outcome.kind == "stored"
    exif = await intake.pool.fetchval("SELECT exif FROM images WHERE id = $1", outcome.image_id)
    exif = _json.loads(exif) if isinstance(exif, str) else exif
    exif["video"]["keyframes"] = []  # what a damaged (but playable elsewhere) video gets
    await intake.pool.execute("UPDATE images SET exif = $2 WHERE id = $1", outcome.image_id, exif)
    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    await start_line(intake, models_dir)

    async def settled() -> str:
        stage = await intake.pool.fetchval("SELECT stage::text FROM images WHERE id = $1", outcome.image_id)
        return stage if stage in ("done", "failed") else ""

    stage = await eventually(settled, timeout=15, what="the video to leave the pipeline")
    print("\nvideo without keyframes ended in", stage)
    assert await browse.shows_people(intake.pool, outcome.image_id), (
        "never looked at by the detector, yet its original is served to every viewer of the project"
    )


async def test_stopping_finishes_the_images_in_hand_and_claims_no_more(intake: Intake) -> None:
    import threading

    models_dir = intake.data_dir / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    line = await start_line(intake, models_dir)
    engine = line.pipeline.detector
    assert engine is not None
    real_infer, gate = engine._infer, threading.Event()

    def held(model: Any, batch: list[Any]) -> Any:
        gate.wait(30)  # the model is busy until the stop has been asked for
        return real_infer(model, batch)

    engine._infer = held
    await line.send_photos(6)
    stage = next(actor for actor in intake.supervisor.actors if actor.name == "detector")
    await eventually(lambda: stage.in_hand > 0, what="the detector to have photos in hand")
    in_hand = set(stage._held)
    assert stage.request_stop()
    gate.set()
    await eventually(lambda: not stage.alive, what="the detector to stop after its photos in hand")
    rows = await intake.pool.fetch("SELECT id, stage::text, claimed_by FROM images")
    assert all(row["claimed_by"] != stage.worker for row in rows), "the detector holds no lease"
    moved = {row["id"] for row in rows if row["stage"] != "stored"}
    assert in_hand <= moved, "what was in hand was finished, not dropped"
