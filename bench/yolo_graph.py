"""A YOLOv5s-shaped detector with random weights, for benchmarks: the real cost of a model, meaningless output.

The graph follows YOLOv5's structure at a smaller width (about YOLOv8n's cost): a 6x6 stride-2 stem, stride-2
3x3 convolutions with C3 blocks (two 1x1 branches, residual bottlenecks, a 1x1 merge), SPPF, and three detect
heads at strides 8, 16 and 32 with three anchors each, decoded in the graph as YOLOv5's export does
(``xy = (2 sigmoid - 0.5 + grid) * stride``, ``wh = (2 sigmoid)^2 * anchor``). Activations are SiLU
(``x * sigmoid(x)``), weights are He-initialised from a fixed seed, batch norm is folded away (as in an export).

Input ``images`` ``[batch, 3, 640, 640]`` (dynamic batch), output ``[batch, 25200, 8]``: the megadetector-v5
family with labels animal, person, vehicle. So that decoding and NMS cost what they cost on real photos, the
objectness logits are calibrated on a trail photo: its best row scores 0.8 and about a dozen rows 0.1 or more
(before NMS, as a real photo with an animal gives), the rest far below; other photos give about the same.

    manifest = write_model(directory)          # directory/bench-md.onnx and directory/bench-md.toml
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from addax.models.imaging import decode_rgb, letterbox
from tests.domain.jpeg_factory import trail_photo
from tests.models.graphs import DETECTION_LABELS, IR_VERSION, OPSET, _write_manifest

NAME = "bench-md"
SIZE = 640
COLUMNS = 5 + len(DETECTION_LABELS)
ANCHORS = (  # YOLOv5's default anchors, in input pixels, per stride
    (8, ((10, 13), (16, 30), (33, 23))),
    (16, ((30, 61), (62, 45), (59, 119))),
    (32, ((116, 90), (156, 198), (373, 326))),
)
TARGET_CANDIDATES = 12  # rows scoring >= 0.1 on the calibration photo
TOP_SCORE = 0.8  # the best row's score on it


@dataclass
class _Builder:
    """Nodes and initialisers of one graph, with the running count of multiply-adds at 640x640."""

    rng: np.random.Generator
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    weights: list[onnx.TensorProto] = field(default_factory=list)
    macs: int = 0
    _count: int = 0

    def name(self, kind: str) -> str:
        self._count += 1
        return f"{kind}{self._count}"

    def const(self, value: np.ndarray, kind: str = "c") -> str:
        name = self.name(kind)
        self.weights.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], **attributes: Any) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attributes))
        return out

    def conv(self, x: str, c_in: int, c_out: int, k: int, s: int, side: int, *, act: bool = True) -> str:
        """Conv (+ folded BN bias) + SiLU; ``side`` is the output's spatial size, for the cost."""
        std = np.sqrt(2.0 / (c_in * k * k))
        w = self.const((self.rng.standard_normal((c_out, c_in, k, k)) * std).astype(np.float32), "w")
        b = self.const(np.zeros(c_out, dtype=np.float32), "b")
        pad = k // 2 if k != 6 else 2
        y = self.op("Conv", [x, w, b], kernel_shape=[k, k], strides=[s, s], pads=[pad] * 4)
        self.macs += side * side * c_out * c_in * k * k
        return self.op("Mul", [y, self.op("Sigmoid", [y])]) if act else y

    def c3(self, x: str, c: int, n: int, side: int) -> str:
        half = c // 2
        a = self.conv(x, c, half, 1, 1, side)
        for _ in range(n):
            inner = self.conv(self.conv(a, half, half, 1, 1, side), half, half, 3, 1, side)
            a = self.op("Add", [a, inner])
        b = self.conv(x, c, half, 1, 1, side)
        return self.conv(self.op("Concat", [a, b], axis=1), c, c, 1, 1, side)

    def sppf(self, x: str, c: int, side: int) -> str:
        half = c // 2
        a = self.conv(x, c, half, 1, 1, side)
        pools = [a]
        for _ in range(3):
            pools.append(self.op("MaxPool", [pools[-1]], kernel_shape=[5, 5], strides=[1, 1], pads=[2] * 4))
        return self.conv(self.op("Concat", pools, axis=1), half * 4, c, 1, 1, side)


def _head(g: _Builder, x: str, c_in: int, stride: int, anchors: Sequence[tuple[int, int]]) -> tuple[str, str]:
    """One detect head: (raw logits ``[B, 3HW, 8]``, decoded rows ``[B, 3HW, 8]``)."""
    side, k = SIZE // stride, len(anchors)
    w = (g.rng.standard_normal((k * COLUMNS, c_in, 1, 1)) / np.sqrt(c_in)).astype(np.float32)
    conv = g.op("Conv", [x, g.const(w, "w"), g.const(np.zeros(k * COLUMNS, np.float32), "b")], kernel_shape=[1, 1])
    g.macs += side * side * c_in * k * COLUMNS
    shaped = g.op("Reshape", [conv, g.const(np.array([-1, k, COLUMNS, side, side], np.int64))])
    moved = g.op("Transpose", [shaped], perm=[0, 1, 3, 4, 2])
    raw = g.op("Reshape", [moved, g.const(np.array([-1, k * side * side, COLUMNS], np.int64))])
    sig = g.op("Sigmoid", [raw])
    split = g.const(np.array([2, 2, COLUMNS - 4], np.int64))
    xy, wh, rest = (g.name("part") for _ in range(3))
    g.nodes.append(helper.make_node("Split", [sig, split], [xy, wh, rest], axis=2))
    ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    grid = np.stack([xs, ys], -1).reshape(1, 1, side * side, 2).repeat(k, 1).reshape(1, -1, 2) - 0.5
    anchor = np.array(anchors, np.float32).reshape(1, k, 1, 2).repeat(side * side, 2).reshape(1, -1, 2)
    two = g.const(np.array(2.0, np.float32))
    centre = g.op("Mul", [g.op("Add", [g.op("Mul", [xy, two]), g.const(grid.astype(np.float32))]), g.const(
        np.array(float(stride), np.float32))])  # fmt: skip
    doubled = g.op("Mul", [wh, two])
    size = g.op("Mul", [g.op("Mul", [doubled, doubled]), g.const(anchor)])
    return raw, g.op("Concat", [centre, size, rest], axis=2)


def build(seed: int = 0, *, obj_scale: float = 1.0, obj_bias: float = 0.0) -> tuple[onnx.ModelProto, int]:
    """The graph and its multiply-adds per 640x640 image; objectness logits are ``obj_scale * z + obj_bias``."""
    g = _Builder(np.random.default_rng(seed))
    widths = (24, 48, 96, 192, 384)
    x = g.conv("images", 3, widths[0], 6, 2, SIZE // 2)
    x = g.conv(x, widths[0], widths[1], 3, 2, SIZE // 4)
    x = g.c3(x, widths[1], 1, SIZE // 4)
    p3 = g.c3(g.conv(x, widths[1], widths[2], 3, 2, SIZE // 8), widths[2], 2, SIZE // 8)
    p4 = g.c3(g.conv(p3, widths[2], widths[3], 3, 2, SIZE // 16), widths[3], 3, SIZE // 16)
    p5 = g.sppf(g.c3(g.conv(p4, widths[3], widths[4], 3, 2, SIZE // 32), widths[4], 1, SIZE // 32), widths[4], 20)
    # a light neck: P5 up into P4, P4 up into P3 (YOLOv5's top-down path)
    up5 = g.op("Resize", [p5, "", g.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    n4 = g.c3(g.conv(g.op("Concat", [up5, p4], axis=1), widths[4] + widths[3], widths[3], 1, 1, 40), widths[3], 1, 40)
    up4 = g.op("Resize", [n4, "", g.const(np.array([1, 1, 2, 2], np.float32))], mode="nearest")
    n3 = g.c3(g.conv(g.op("Concat", [up4, p3], axis=1), widths[3] + widths[2], widths[2], 1, 1, 80), widths[2], 1, 80)
    levels = [(n3, widths[2]), (n4, widths[3]), (p5, widths[4])]
    raws, rows = [], []
    for (feature, channels), (stride, anchors) in zip(levels, ANCHORS, strict=True):
        raw, decoded = _head(g, feature, channels, stride, anchors)
        raws.append(raw)
        rows.append(decoded)
    # objectness and class logits: obj * scale + bias on column 4; animal favoured over person and vehicle
    scale = np.ones(COLUMNS, np.float32)
    shift = np.zeros(COLUMNS, np.float32)
    scale[4], shift[4] = obj_scale, obj_bias
    shift[5:] = (2.0, -1.0, -2.0)
    logits = g.op("Concat", rows, axis=1)
    # rows hold decoded xywh (pixels) and sigmoid scores; redo the score columns from the raw logits
    raw_all = g.op("Concat", raws, axis=1)
    scores = g.op("Sigmoid", [g.op("Add", [g.op("Mul", [raw_all, g.const(scale)]), g.const(shift)])])
    keep = np.array([1, 1, 1, 1, 0, 0, 0, 0], np.float32)
    mixed = g.op("Add", [g.op("Mul", [logits, g.const(keep)]), g.op("Mul", [scores, g.const(1 - keep)])])
    g.nodes.append(helper.make_node("Identity", [mixed], ["output"]))
    g.nodes.append(helper.make_node("Identity", [raw_all], ["raw"]))
    graph = helper.make_graph(
        g.nodes,
        NAME,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, SIZE, SIZE])],
        [
            helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 25200, COLUMNS]),
            helper.make_tensor_value_info("raw", TensorProto.FLOAT, ["batch", 25200, COLUMNS]),
        ],
        initializer=g.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="addax-bench")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model, g.macs


def _calibration(model: onnx.ModelProto) -> tuple[float, float]:
    """Objectness (scale, bias) for a trail photo: its best row scores TOP_SCORE, its TARGET_CANDIDATES-th 0.1."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "probe.onnx"
        onnx.save(model, path)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        _, data = trail_photo(0, 1)
        tensor, _ = letterbox(decode_rgb(data, at_least=SIZE), SIZE)
        raw = session.run(["raw"], {"images": tensor[None]})[0][0]
    z, animal = raw[:, 4], 1 / (1 + np.exp(-(raw[:, 5] + 2.0)))  # animal: the class score the graph gives
    order = np.argsort(-z)
    best, last = order[0], order[TARGET_CANDIDATES - 1]
    # solve scale * z + bias = logit(score / animal) at the best row and at the last candidate
    want_best, want_last = (_logit(score / animal[row]) for score, row in ((TOP_SCORE, best), (0.1, last)))
    scale = (want_best - want_last) / float(z[best] - z[last])
    return scale, want_best - scale * float(z[best])


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def write_model(directory: Path, seed: int = 0) -> Path:
    """Write ``bench-md.onnx`` (calibrated, without the calibration output) and its manifest; the manifest's path.

    The ONNX file is written before the manifest, each under a temporary name renamed into place, so a service
    watching ``directory`` never sees a manifest without its model, nor half a file.
    """
    probe, _ = build(seed)
    scale, bias = _calibration(probe)
    model, _ = build(seed, obj_scale=scale, obj_bias=bias)
    del model.graph.output[1]  # drop "raw": the model has one output, as a real export does
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=".staging-"))
    onnx.save(model, staging / f"{NAME}.onnx")
    manifest = _write_manifest(
        staging, NAME, kind="detector", family="megadetector-v5", labels=DETECTION_LABELS, input_size=SIZE,
        categories=None, extra={"source": "bench/yolo_graph.py (random weights)"},
    )  # fmt: skip
    (staging / f"{NAME}.onnx").rename(directory / f"{NAME}.onnx")
    manifest.rename(directory / manifest.name)
    staging.rmdir()
    return directory / manifest.name


def gflops() -> float:
    """The model's cost per 640x640 image in GFLOPs (2 x multiply-adds, as ultralytics counts)."""
    return 2 * build()[1] / 1e9
