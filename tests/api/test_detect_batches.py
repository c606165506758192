"""A busy detector answers a /detect/batch per file: the files it cannot take now say so, with a retry time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from addax.pipeline import analyse
from tests.api.conftest import Backend
from tests.api.test_detect import ANIMAL, form, photo, start
from tests.conftest import world_readable_tempdir
from tests.models.graphs import detector_model


async def test_a_batch_larger_than_the_queue_limit_still_answers_per_file(
    backend: Backend, make_api: Callable, device: tuple[int, str]
) -> None:
    models_dir = world_readable_tempdir("addax-models-") / "models"
    detector_model(models_dir, boxes=[ANIMAL], name="md")
    pipeline = await start(backend, models_dir, detect_queue_limit=4, batch_size=2)
    engine = pipeline.detector
    assert engine is not None
    real_infer = engine._infer

    def slow(model: Any, batch: list[Any]) -> Any:
        time.sleep(0.1)
        return real_infer(model, batch)

    engine._infer = slow
    api = await make_api(
        max_upload_bytes=50 * 2**20, analyse=lambda data, threshold: analyse(pipeline, data, threshold=threshold)
    )
    files = [(f"{i}.jpg", photo()) for i in range(12)]
    response = await api.post("/api/v1/detect/batch", data=form(*files), headers={"X-API-Token": device[1]})
    assert response.status == 200, (response.status, await response.text())
