"""Detector outputs to boxes: YOLOv5 (MegaDetector v5) and ultralytics (MegaDetector v6, v1000, DeepFaune's).

Both families predict centre-x, centre-y, width and height in input pixels; they differ in layout:

- ``megadetector-v5``: ``[N, 5 + C]`` per image, an objectness column, score = objectness x class score;
- ``yolo-ultralytics``: ``[4 + C, N]`` per image (transposed), score = class score.

Every box with a score at or above ``min_score`` survives a per-class non-maximum suppression (as YOLOv5's and
ultralytics' own ``agnostic=False``), is mapped back through the letterbox and named by the manifest's
categories; model labels without a category are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from addax.models.imaging import Letterbox

MIN_SCORE = 0.1  # every box at or above this is stored; users filter by their own thresholds
IOU_THRESHOLD = 0.45
MAX_BOXES = 100


@dataclass(frozen=True, slots=True)
class Box:
    label: str  # animal | person | vehicle
    score: float
    bbox: tuple[float, float, float, float]  # x, y, w, h normalised from the top-left


def decode_yolov5(
    rows: np.ndarray,
    geometry: Letterbox,
    labels: Sequence[str],
    categories: Mapping[str, str],
    min_score: float = MIN_SCORE,
) -> list[Box]:
    """One image's ``[N, 5 + C]`` YOLOv5 output."""
    _expect(rows, 5 + len(labels), "[N, 5 + classes]")
    class_scores = rows[:, 5:] * rows[:, 4:5]
    return _boxes(rows[:, :4], class_scores, geometry, labels, categories, min_score)


def decode_ultralytics(
    columns: np.ndarray,
    geometry: Letterbox,
    labels: Sequence[str],
    categories: Mapping[str, str],
    min_score: float = MIN_SCORE,
) -> list[Box]:
    """One image's ``[4 + C, N]`` ultralytics output."""
    rows = columns.T
    _expect(rows, 4 + len(labels), "[4 + classes, N]")
    return _boxes(rows[:, :4], rows[:, 4:], geometry, labels, categories, min_score)


def _expect(rows: np.ndarray, width: int, layout: str) -> None:
    if rows.ndim != 2 or rows.shape[1] != width:
        raise ValueError(f"detector output {tuple(rows.shape)} does not fit {layout} with {width} columns")


def _boxes(
    centres: np.ndarray,
    class_scores: np.ndarray,
    geometry: Letterbox,
    labels: Sequence[str],
    categories: Mapping[str, str],
    min_score: float,
) -> list[Box]:
    classes = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(classes)), classes]
    # a row with an infinite or NaN coordinate (an fp16 overflow) is no box, and would poison the NMS offsets
    keep = (scores >= min_score) & np.isfinite(scores) & np.isfinite(centres).all(axis=1)
    named = np.array([labels[c] in categories for c in range(len(labels))], dtype=bool)
    keep &= named[classes]
    centres, scores, classes = centres[keep].astype(np.float64), scores[keep], classes[keep]
    cx, cy, w, h = centres[:, 0], centres[:, 1], centres[:, 2], centres[:, 3]
    corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kept = per_class_nms(corners, scores, classes, IOU_THRESHOLD)[:MAX_BOXES]
    bboxes = geometry.to_photo(corners[kept, 0], corners[kept, 1], corners[kept, 2], corners[kept, 3])
    return [
        Box(
            label=categories[labels[int(classes[i])]],
            score=round(float(min(scores[i], 1.0)), 4),
            bbox=(round(float(b[0]), 4), round(float(b[1]), 4), round(float(b[2]), 4), round(float(b[3]), 4)),
        )
        for i, b in zip(kept, bboxes, strict=True)
        if b[2] > 0 and b[3] > 0
    ]


def per_class_nms(corners: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> list[int]:
    """Indices kept by non-maximum suppression within each class, best score first."""
    # Offsetting each class far apart lets one pass suppress only within a class (YOLOv5's trick).
    offset = classes[:, None].astype(np.float64) * (float(np.abs(corners).max(initial=0.0)) + 1.0) * 2
    return nms(corners + offset, scores, iou)


def nms(corners: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression over ``[x1, y1, x2, y2]`` rows."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(corners[:, 2] - corners[:, 0], 0, None) * np.clip(corners[:, 3] - corners[:, 1], 0, None)
    kept: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        kept.append(best)
        left = np.maximum(corners[best, 0], corners[rest, 0])
        top = np.maximum(corners[best, 1], corners[rest, 1])
        right = np.minimum(corners[best, 2], corners[rest, 2])
        bottom = np.minimum(corners[best, 3], corners[rest, 3])
        overlap = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
        union = areas[best] + areas[rest] - overlap
        ratio = np.divide(overlap, union, out=np.zeros_like(overlap), where=union > 0)
        order = rest[ratio <= iou]
    return kept


DECODERS = {"megadetector-v5": decode_yolov5, "yolo-ultralytics": decode_ultralytics}

#: The output width a family's detector must have for C labels (checked when the model is opened).
OUTPUT_COLUMNS = {"megadetector-v5": lambda classes: 5 + classes, "yolo-ultralytics": lambda classes: 4 + classes}
