"""A busy detector answers a /detect/batch per file: the files it cannot take now say so, with a retry time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from addax.pipeline import analyse
from addax.runtime.batching import Overloaded
from tests.api.conftest import Backend
from tests.api.test_detect import ANIMAL, form, hold_the_model, photo, start
from tests.conftest import world_readable_tempdir
from tests.models.graphs import detector_model
from tests.waiting import eventually


async def test_a_batch_larger_than_the_queue_limit_still_answers_per_file(
    backend: Backend, make_api: Callable, device: tuple[int, str]
) -> None:
    models_dir = world_readable_tempdir("addax-models-") / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    pipeline = await start(backend, models_dir, detect_queue_limit=4, batch_size=2)
    engine = pipeline.detector
    assert engine is not None
    gate = hold_the_model(pipeline)
    refused = []
    real_submit = engine.submit

    async def counted_submit(item: Any, *, urgent: bool = False) -> Any:
        try:
            return await real_submit(item, urgent=urgent)
        except Overloaded:
            refused.append(item)
            raise

    engine.submit = counted_submit  # type: ignore[method-assign]
    api = await make_api(
        max_upload_bytes=50 * 2**20, analyse=lambda data, threshold: analyse(pipeline, data, threshold=threshold)
    )
    files = [(f"{i}.jpg", photo()) for i in range(12)]
    request = asyncio.ensure_future(
        api.post("/api/v1/detect/batch", data=form(*files), headers={"X-API-Token": device[1]})
    )
    await eventually(lambda: refused, what="a file turned away while the detector is busy")
    gate.set()
    response = await request
    assert response.status == 200, (response.status, await response.text())
    results = (await response.json())["results"]
    assert [r["file"] for r in results] == [name for name, _ in files]
    busy = [r for r in results if "error" in r]
    # turned away at the queue (counted here) or before decoding (admit): each says so, with a retry time
    assert len(busy) >= len(refused) >= 1 and all(r["retry_after_s"] == 2 and "busy" in r["error"] for r in busy)
    assert all(len(r["detections"]) == 1 for r in results if "error" not in r)
