"""Opening models: one ModelError naming the file for each way a model cannot be used; provider choice; runs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from addax.models.manifest import load_manifest
from addax.models.session import CPU, ModelError, OnnxModel, choose_providers, open_model
from tests.models.graphs import broken_model, classifier_model, detector_model

CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"


def open_path(manifest: Path, providers: list[str] | None = None) -> OnnxModel:
    return open_model(load_manifest(manifest), providers or [CPU], threads=1)


def model_error(manifest: Path) -> str:
    with pytest.raises(ModelError) as caught:
        open_path(manifest)
    return str(caught.value)


def test_a_missing_model_file_is_named_with_its_manifest(tmp_path: Path) -> None:
    manifest = broken_model(tmp_path, "missing")
    message = model_error(manifest)
    assert message == f"{tmp_path / 'broken.onnx'}: model file not found (manifest {manifest})"


def test_a_corrupt_model_file_is_named(tmp_path: Path) -> None:
    message = model_error(broken_model(tmp_path, "corrupt"))
    assert message.startswith(f"{tmp_path / 'broken.onnx'}: not a usable ONNX model (")


@pytest.mark.parametrize(
    ("family", "shape", "expected"),
    [
        ("megadetector-v5", "['batch', 20, 7]", "(expected [batch, boxes, 5 + classes], 8 wide)"),
        ("yolo-ultralytics", "['batch', 8, 20]", "(expected [batch, 4 + classes, boxes], 7 wide)"),
    ],
)
def test_a_detector_of_the_wrong_shape_is_named(tmp_path: Path, family: str, shape: str, expected: str) -> None:
    message = model_error(broken_model(tmp_path, "wrong-shape", family=family))
    assert message == (
        f"{tmp_path / 'broken.onnx'}: output shape {shape} does not fit family {family} with 3 labels {expected}"
    )


def test_a_classifier_output_as_a_detector_is_refused(tmp_path: Path) -> None:
    extra = {"kind": "detector", "family": "megadetector-v5"}
    manifest = classifier_model(tmp_path, labels=["animal", "person", "vehicle"], extra_manifest=extra)
    assert "output shape ['batch', 3] does not fit family megadetector-v5" in model_error(manifest)


def test_a_classifier_with_a_label_too_many_is_refused(tmp_path: Path) -> None:
    labels = ["red deer", "roe deer", "wild boar"]
    manifest = classifier_model(tmp_path, labels=labels, extra_manifest={"labels": [*labels, "fox"]})
    message = model_error(manifest)
    assert message == (
        f"{tmp_path / 'classifier.onnx'}: output shape ['batch', 3] does not fit family classifier "
        "with 4 labels (expected [batch, classes], 4 wide)"
    )


@pytest.mark.parametrize("channels_last", [False, True])
def test_an_input_size_that_is_not_the_manifests_is_named(tmp_path: Path, channels_last: bool) -> None:
    manifest = detector_model(tmp_path, input_size=64, channels_last=channels_last, extra_manifest={"input_size": 32})
    message = model_error(manifest)
    assert message.startswith(f"{tmp_path / 'detector.onnx'}: input shape ")
    assert message.endswith(f"does not match input_size = 32 of {manifest}")


def test_an_input_that_is_not_rgb_is_named(tmp_path: Path) -> None:
    message = model_error(broken_model(tmp_path, "grey-input"))
    assert message == f"{tmp_path / 'broken.onnx'}: input shape ['batch', 1, 64, 64] does not take RGB images"


@pytest.mark.parametrize(
    ("requested", "available", "chosen"),
    [
        ([CUDA], [CPU], [CPU]),
        ([CUDA], [CUDA, CPU], [CUDA, CPU]),
        ([CUDA], [TENSORRT, CUDA, CPU], [TENSORRT, CUDA, CPU]),  # TensorRT first whenever CUDA is asked for
        ([CPU, CUDA], [TENSORRT, CUDA, CPU], [TENSORRT, CUDA, CPU]),  # the CPU always last
        ([CUDA, TENSORRT], [TENSORRT, CUDA, CPU], [CUDA, TENSORRT, CPU]),  # an explicit order is kept
        ([], [CUDA, CPU], [CPU]),
        (["OpenVINOExecutionProvider"], [CPU], [CPU]),
    ],
)
def test_choose_providers(requested: list[str], available: list[str], chosen: list[str]) -> None:
    assert choose_providers(requested, available) == chosen


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="this onnxruntime has CUDA")
def test_cuda_asked_for_on_a_cpu_onnxruntime_runs_on_the_cpu_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="addax.models"):
        model = open_path(detector_model(tmp_path), [CUDA])
    assert model.provider == CPU
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == "addax.models"
    assert warning.getMessage() == "GPU provider not available, running on the CPU"
    assert warning.__dict__["model"] == "detector" and warning.__dict__["requested"] == [CUDA]
    [loaded] = [r for r in caplog.records if r.getMessage() == "model loaded"]
    assert loaded.__dict__["provider"] == CPU


def test_the_cpu_asked_for_gives_no_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="addax.models"):
        model = open_path(detector_model(tmp_path), [CPU])
    assert model.provider == CPU
    assert caplog.records == []


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("batch", [None, 1])
def test_a_classifier_runs_nchw_batches_either_layout(tmp_path: Path, channels_last: bool, batch: int | None) -> None:
    manifest = classifier_model(
        tmp_path, labels=["cat", "dog", "fox"], logits=[0.5, -1.0, 2.0], channels_last=channels_last, batch=batch
    )
    model = open_path(manifest)
    assert (model.input.channels_last, model.max_batch, model.input.size) == (channels_last, batch, 32)
    output = model.run(np.zeros((3, 3, 32, 32), dtype=np.float32))  # NCHW, as the pipeline builds them
    np.testing.assert_array_equal(output, [[0.5, -1.0, 2.0]] * 3)


def test_a_fixed_batch_of_two_refuses_one_image(tmp_path: Path) -> None:
    model = open_path(classifier_model(tmp_path, labels=["cat", "dog"], batch=2))
    assert model.run(np.zeros((2, 3, 32, 32), dtype=np.float32)).shape == (2, 2)
    with pytest.raises(ModelError, match=r"classifier\.onnx: takes batches of exactly 2 images"):
        model.run(np.zeros((1, 3, 32, 32), dtype=np.float32))
