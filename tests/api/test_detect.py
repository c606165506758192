"""``POST /api/v1/detect`` and ``/batch`` against a real (small) ONNX detector, and ``/api/dead-letters``."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest
from PIL import Image

from addax.config import Config, General, Models
from addax.pipeline import Pipeline, analyse, start_pipeline
from addax.store import work
from tests.api.conftest import Backend
from tests.conftest import world_readable_tempdir
from tests.domain.jpeg_factory import claiming_size, noisy_jpeg
from tests.models.graphs import FakeBox, detector_model
from tests.waiting import eventually

# An 800x600 photo in a 64-pixel input: scale 0.08, 64x48 placed at y = 8; the box 24..40 x 24..40
# -> x 0.375..0.625, y (16/48)..(32/48).
ANIMAL = FakeBox(32, 32, 16, 16, 0, 0.9)


def form(*files: tuple[str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, content in files:
        data.add_field("file", content, filename=name, content_type="image/jpeg")
    return data


def hold_the_model(pipeline: Pipeline) -> threading.Event:
    """Make the detector wait at each batch until the returned gate opens: a busy GPU, on the test's cue."""
    engine = pipeline.detector
    assert engine is not None
    gate, real_infer = threading.Event(), engine._infer

    def held(model: Any, batch: list[Any]) -> Any:
        gate.wait(30)
        return real_infer(model, batch)

    engine._infer = held
    return gate


def photo(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 60)).save(out, "JPEG")
    return out.getvalue()


async def start(backend: Backend, models_dir: Path, **models: Any) -> Pipeline:
    config = Config(
        general=General(data_dir=str(models_dir.parent)),
        models=Models(dir=str(models_dir), batch_wait_ms=2, providers=["CPUExecutionProvider"], **models),
    )
    return await start_pipeline(
        backend.supervisor, config, pool=backend.pool, objects=backend.objects, roles=("detect",), worker="api-test"
    )


@pytest.fixture
async def detect_api(backend: Backend, make_api: Callable) -> Any:
    models_dir = world_readable_tempdir("addax-models-") / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    pipeline = await start(backend, models_dir)
    return await make_api(analyse=lambda data, threshold: analyse(pipeline, data, threshold=threshold))


async def test_one_photo_gets_its_boxes_and_the_model(detect_api: Any, device: tuple[int, str]) -> None:
    response = await detect_api.post(
        "/api/v1/detect", data=form(("a.jpg", photo())), headers={"X-API-Token": device[1]}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    [box] = body["detections"]
    assert box["label"] == "animal" and box["score"] == pytest.approx(0.9, abs=1e-3)
    assert np.allclose(box["bbox"], [0.375, 16 / 48, 0.25, 16 / 48], atol=2e-3)
    assert body["model"]["detector"]["name"] == "md"
    assert body["model"]["detector"]["provider"] == "CPUExecutionProvider"
    assert body["classifications"] == [] and body["inference_ms"] > 0


async def test_bad_files_get_a_clear_422(detect_api: Any, bearer: dict[str, str]) -> None:
    bomb = claiming_size(noisy_jpeg(64, 48), 20_000, 20_000)
    for name, content, expected in [
        ("notes.txt", b"this is not a photo at all", "not a readable image"),
        ("empty.jpg", b"", "empty"),
        ("bomb.jpg", bomb, "over the limit"),
        ("cut.jpg", photo()[:1500], "cannot be decoded"),
    ]:
        response = await detect_api.post("/api/v1/detect", data=form((name, content)), headers=bearer)
        assert response.status == 422, (name, await response.text())
        assert expected in (await response.json())["error"], name


async def test_a_batch_answers_per_file(detect_api: Any, device: tuple[int, str]) -> None:
    files = [("one.jpg", photo()), ("junk.jpg", b"\xff\xd8\xff garbage"), ("two.jpg", photo(600, 800))]
    response = await detect_api.post("/api/v1/detect/batch", data=form(*files), headers={"X-API-Token": device[1]})
    assert response.status == 200, await response.text()
    results = (await response.json())["results"]
    assert [r["file"] for r in results] == ["one.jpg", "junk.jpg", "two.jpg"]
    assert len(results[0]["detections"]) == 1 and len(results[2]["detections"]) == 1
    assert "error" in results[1] and "detections" not in results[1]


async def test_a_batch_of_more_than_fifty_is_refused(detect_api: Any, device: tuple[int, str]) -> None:
    files = [(f"{i}.jpg", b"x") for i in range(51)]
    response = await detect_api.post("/api/v1/detect/batch", data=form(*files), headers={"X-API-Token": device[1]})
    assert response.status == 413


async def test_detect_needs_a_token(detect_api: Any) -> None:
    response = await detect_api.post("/api/v1/detect", data=form(("a.jpg", photo())))
    assert response.status == 401
    response = await detect_api.post("/api/v1/detect", data=form(("a.jpg", photo())), headers={"X-API-Token": "x"})
    assert response.status == 401


async def test_without_a_detector_the_answer_is_503_with_the_fix(
    backend: Backend, make_api: Callable, device: tuple[int, str]
) -> None:
    pipeline = await start(backend, world_readable_tempdir("addax-models-") / "none")
    api = await make_api(analyse=lambda data, threshold: analyse(pipeline, data, threshold=threshold))
    response = await api.post("/api/v1/detect", data=form(("a.jpg", photo())), headers={"X-API-Token": device[1]})
    assert response.status == 503 and "Retry-After" in response.headers
    assert "addax models add" in (await response.json())["error"]


async def test_an_overloaded_detector_sheds_load_with_retry_after(
    backend: Backend, make_api: Callable, device: tuple[int, str]
) -> None:
    models_dir = world_readable_tempdir("addax-models-") / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    pipeline = await start(backend, models_dir, detect_queue_limit=2, batch_size=1)
    gate = hold_the_model(pipeline)
    api = await make_api(analyse=lambda data, threshold: analyse(pipeline, data, threshold=threshold))
    headers = {"X-API-Token": device[1]}
    requests = [
        asyncio.ensure_future(api.post("/api/v1/detect", data=form(("a.jpg", photo())), headers=headers))
        for _ in range(8)
    ]
    # One photo in the model, two waiting (the limit): the other five are turned away at once.
    await eventually(lambda: sum(r.done() for r in requests) == 5, what="five requests shed")
    gate.set()
    responses = await asyncio.gather(*requests)
    statuses = sorted(response.status for response in responses)
    assert statuses == [200] * 3 + [503] * 5, statuses
    shed = next(response for response in responses if response.status == 503)
    assert shed.headers["Retry-After"] == "2"


async def test_dead_letters_are_listed_and_retried_by_an_admin(
    make_api: Callable, backend: Backend, device: tuple[int, str], bearer: dict[str, str]
) -> None:
    project_id, _ = device
    image_id = await backend.pool.fetchval(
        """INSERT INTO images (project_id, sha256, original_name, source, size_bytes, original_key, stage,
               last_error, blur_all)
           VALUES ($1, $2, 'x.jpg', 'http', 3, 'k', 'failed', 'boom', true) RETURNING id""",
        project_id,
        b"\x01" * 32,
    )
    await backend.pool.execute(
        "INSERT INTO dead_letters (image_id, stage, error, attempts) VALUES ($1, 'classify', 'boom', 5)", image_id
    )
    api = await make_api()
    listed = await (await api.get(f"/api/dead-letters?project={project_id}", headers=bearer)).json()
    [letter] = listed["dead_letters"]
    assert (letter["image_id"], letter["stage"], letter["error"]) == (image_id, "classify", "boom")
    response = await api.post(f"/api/dead-letters/{letter['id']}/retry", headers=bearer)
    assert response.status == 202
    row = await backend.pool.fetchrow("SELECT stage::text, attempts, blur_all FROM images WHERE id = $1", image_id)
    assert (row["stage"], row["attempts"], row["blur_all"]) == ("detected", 0, False), "back to where it failed"
    again = await api.post(f"/api/dead-letters/{letter['id']}/retry", headers=bearer)
    assert again.status == 409
    assert await work.dead_letters(backend.pool, projects=[project_id]) == []
    audit = await backend.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'dead_letter.retry'")
    assert audit == 1
