"""Small real ONNX models for tests: each family's input and output shapes, with outputs the test chooses.

Every graph outputs a constant table but still reads its input: ``table + 0 * ReduceMean(images)`` (or, for
:func:`brightness_detector_model`, scores scaled by that mean), so onnxruntime really runs on the pixels and the
output's batch dimension follows the input's. Each factory writes ``<name>.onnx`` and a manifest
``<name>.toml`` per the contract in ARCHITECTURE.md ("Models") and returns the manifest's path.

    manifest = load_manifest(detector_model(tmp_path, boxes=[FakeBox(32, 32, 16, 16, 0, 0.9)]))
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

OPSET = 17
IR_VERSION = 9  # onnxruntime 1.20 and later read it
DETECTION_LABELS = ("animal", "person", "vehicle")


@dataclass(frozen=True, slots=True)
class FakeBox:
    """One detection in INPUT pixels (the model's letterboxed square): centre, size, class and score."""

    cx: float
    cy: float
    w: float
    h: float
    label_index: int
    score: float


def detector_model(
    directory: Path,
    *,
    family: str = "megadetector-v5",
    boxes: Sequence[FakeBox] = (),
    labels: Sequence[str] = DETECTION_LABELS,
    input_size: int = 64,
    batch: int | None = None,
    name: str = "detector",
    categories: Mapping[str, str] | None = None,
    anchors: int = 20,
    channels_last: bool = False,
    extra_manifest: Mapping[str, Any] | None = None,
) -> Path:
    """A detector whose every image gives ``boxes`` (``[B, anchors, 5+C]`` or ``[B, 4+C, anchors]``).

    megadetector-v5 rows: objectness = score, class score 1.0 for the box's class; unused rows are zero.
    ``batch`` None: a dynamic batch dimension; an int fixes it. ``extra_manifest`` adds or replaces manifest
    keys (a value of None removes the key).
    """
    table = _detection_table(family, boxes, len(labels), anchors)
    _write_graph(directory / f"{name}.onnx", table, input_size=input_size, batch=batch, channels_last=channels_last)
    return _write_manifest(
        directory, name, kind="detector", family=family, labels=labels, input_size=input_size,
        categories=categories, extra=extra_manifest,
    )  # fmt: skip


def brightness_detector_model(
    directory: Path,
    *,
    family: str = "megadetector-v5",
    boxes: Sequence[FakeBox] = (),
    labels: Sequence[str] = DETECTION_LABELS,
    input_size: int = 64,
    batch: int | None = None,
    name: str = "detector",
    categories: Mapping[str, str] | None = None,
    anchors: int = 20,
    channels_last: bool = False,
    extra_manifest: Mapping[str, Any] | None = None,
) -> Path:
    """As :func:`detector_model`, but every score is multiplied by the mean of the model's input (0..1).

    A white photo gives the full scores, a black one none (below the 0.1 floor), so different photos give
    different results. The mean includes the letterbox's grey padding (114/255): use square photos, or
    expect a non-square black photo to score ``score * padded fraction * 0.447``.
    """
    table = _detection_table(family, boxes, len(labels), anchors)
    scores = np.zeros_like(table)  # the cells holding scores, to be scaled by the mean
    if family == "megadetector-v5":
        scores[:, :, 4] = table[:, :, 4]  # objectness (the class score stays 1.0)
    else:
        scores[:, 4:, :] = table[:, 4:, :]
    _write_graph(
        directory / f"{name}.onnx",
        table - scores,
        scaled=scores,
        input_size=input_size,
        batch=batch,
        channels_last=channels_last,
    )
    return _write_manifest(
        directory, name, kind="detector", family=family, labels=labels, input_size=input_size,
        categories=categories, extra=extra_manifest,
    )  # fmt: skip


def classifier_model(
    directory: Path,
    *,
    labels: Sequence[str],
    logits: Sequence[float] | None = None,
    input_size: int = 32,
    family: str = "classifier",
    name: str = "classifier",
    channels_last: bool = False,
    batch: int | None = None,
    extra_manifest: Mapping[str, Any] | None = None,
) -> Path:
    """A classifier whose every image gives ``logits`` (``[B, C]``); by default the first label scores highest."""
    if logits is None:
        logits = [float(len(labels) - i) for i in range(len(labels))]
    if len(logits) != len(labels):
        raise ValueError(f"{len(logits)} logits for {len(labels)} labels")
    table = np.asarray([logits], dtype=np.float32)
    _write_graph(directory / f"{name}.onnx", table, input_size=input_size, batch=batch, channels_last=channels_last)
    return _write_manifest(
        directory, name, kind="classifier", family=family, labels=labels, input_size=input_size,
        categories=None, extra=extra_manifest,
    )  # fmt: skip


def broken_model(
    directory: Path,
    kind: str = "corrupt",
    *,
    family: str = "megadetector-v5",
    labels: Sequence[str] = DETECTION_LABELS,
    input_size: int = 64,
    name: str = "broken",
) -> Path:
    """A detector manifest whose model cannot be used.

    ``corrupt``: the file is garbage bytes. ``wrong-shape``: a valid ONNX with the other family's width
    (``[B, N, 4+C]`` for megadetector-v5, e.g. ``[B, N, 7]`` for 3 labels; ``[B, 5+C, N]`` for yolo-ultralytics).
    ``missing``: the manifest names a file that does not exist. ``grey-input``: a valid ONNX (and output) whose
    input takes one channel, ``[B, 1, S, S]``.
    """
    path = directory / f"{name}.onnx"
    directory.mkdir(parents=True, exist_ok=True)
    if kind == "corrupt":
        path.write_bytes(b"\x08\x07this is not an ONNX model\xff\xfe" * 8)
    elif kind == "wrong-shape":
        classes = len(labels)
        shape = (1, 20, 4 + classes) if family == "megadetector-v5" else (1, 5 + classes, 20)
        table = np.zeros(shape, dtype=np.float32)
        _write_graph(path, table, input_size=input_size, batch=None, channels_last=False)
    elif kind == "grey-input":
        table = _detection_table(family, (), len(labels), 20)
        _write_graph(path, table, input_size=input_size, batch=None, channels_last=False, channels=1)
    elif kind != "missing":
        raise ValueError(f"unknown broken model kind {kind!r}")
    return _write_manifest(
        directory, name, kind="detector", family=family, labels=labels, input_size=input_size,
        categories=None, extra=None,
    )  # fmt: skip


def photo(width: int, height: int, colour: tuple[int, int, int] = (128, 128, 128), *, quality: int = 90) -> bytes:
    """A plain JPEG of one colour."""
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _detection_table(family: str, boxes: Sequence[FakeBox], classes: int, anchors: int) -> np.ndarray:
    if len(boxes) > anchors:
        raise ValueError(f"{len(boxes)} boxes do not fit in {anchors} anchors")
    if family == "megadetector-v5":
        rows = np.zeros((anchors, 5 + classes), dtype=np.float32)
        for i, box in enumerate(boxes):
            rows[i, :5] = (box.cx, box.cy, box.w, box.h, box.score)
            rows[i, 5 + box.label_index] = 1.0
        return rows[None]
    if family == "yolo-ultralytics":
        rows = np.zeros((anchors, 4 + classes), dtype=np.float32)
        for i, box in enumerate(boxes):
            rows[i, :4] = (box.cx, box.cy, box.w, box.h)
            rows[i, 4 + box.label_index] = box.score
        return rows.T[None]
    raise ValueError(f"not a detector family: {family!r}")


def _write_graph(
    path: Path,
    table: np.ndarray,
    *,
    input_size: int,
    batch: int | None,
    channels_last: bool,
    scaled: np.ndarray | None = None,
    channels: int = 3,
) -> None:
    """``output = table + mean(images) * scaled`` (``scaled`` zero by default), as ``[batch, *table.shape[1:]]``."""
    batch_dim: int | str = "batch" if batch is None else batch
    side = [input_size, input_size]
    image_shape = [batch_dim, *side, channels] if channels_last else [batch_dim, channels, *side]
    scaled = np.zeros_like(table) if scaled is None else scaled
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean4"], axes=[1, 2, 3], keepdims=1),
        # [B, 1, 1, 1] -> [B, 1] or [B, 1, 1], to broadcast against the [1, ...] table
        helper.make_node("Reshape", ["mean4", "mean_shape"], ["mean"]),
        helper.make_node("Mul", ["mean", "scaled"], ["varying"]),
        helper.make_node("Add", ["table", "varying"], ["output"]),
    ]
    initializers = [
        numpy_helper.from_array(table.astype(np.float32), "table"),
        numpy_helper.from_array(scaled.astype(np.float32), "scaled"),
        numpy_helper.from_array(np.array([-1] + [1] * (table.ndim - 1), dtype=np.int64), "mean_shape"),
    ]
    graph = helper.make_graph(
        nodes,
        path.stem,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, image_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch_dim, *table.shape[1:]])],
        initializer=initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="addax-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)


def _write_manifest(
    directory: Path,
    name: str,
    *,
    kind: str,
    family: str,
    labels: Sequence[str],
    input_size: int,
    categories: Mapping[str, str] | None,
    extra: Mapping[str, Any] | None,
) -> Path:
    keys: dict[str, Any] = {
        "kind": kind,
        "family": family,
        "file": f"{name}.onnx",
        "input_size": input_size,
        "labels": list(labels),
        "licence": "MIT",
        "source": "tests/models/graphs.py",
    }
    keys.update(extra or {})
    lines = [f"{key} = {_toml(value)}" for key, value in keys.items() if value is not None]
    if categories is not None:
        lines.append("[categories]")
        lines += [f"{_toml(label)} = {_toml(category)}" for label, category in categories.items()]
    path = directory / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # JSON's string escapes are valid in TOML basic strings
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")
