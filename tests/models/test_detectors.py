"""Detectors end to end against hand-computed answers: JPEG draft decoding, letterbox, both output layouts, NMS,
categories and the mapping back to normalised ``[x, y, w, h]``, through real onnxruntime sessions.

Boxes are given in INPUT pixels (the model's square). Most photos here are decoded in JPEG draft mode, so the
comments follow the decoded size: for a 64-pixel model, an 800x600 JPEG is decoded at 1/8, 100x75.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from addax.models.detectors import MAX_BOXES, Box, decode_ultralytics, decode_yolov5, per_class_nms
from addax.models.imaging import PAD_VALUE, Letterbox, UnreadableImage, decode_rgb, letterbox
from addax.models.manifest import load_manifest
from addax.models.registry import Detector
from addax.models.session import ModelError
from tests.models.graphs import FakeBox, brightness_detector_model, detector_model, photo

CPU = ["CPUExecutionProvider"]
FAMILIES = ["megadetector-v5", "yolo-ultralytics"]
GREY = PAD_VALUE / 255
LABELS = ("animal", "person", "vehicle")
CATEGORIES = {label: label for label in LABELS}
SQUARE_64 = Letterbox(width=64, height=64, scale_x=1.0, scale_y=1.0, pad_x=0, pad_y=0)  # input pixel = photo pixel


def open_detector(manifest: Path) -> Detector:
    return Detector.open(load_manifest(manifest), CPU)


def detect(detector: Detector, data: bytes) -> list[Box]:
    prepared = detector.prepare(data)
    [output] = detector.infer([prepared.tensor])
    return detector.boxes(output, prepared.geometry)


# --- letterbox and decoding, plain arrays ---


def test_letterbox_of_a_portrait_photo_pads_left_and_right() -> None:
    # 600 wide x 800 high into 64: scale = min(64/600, 64/800) = 0.08 -> 48 x 64, pad_x = (64 - 48) // 2 = 8
    tensor, geometry = letterbox(np.full((800, 600, 3), 255, dtype=np.uint8), 64)
    assert tensor.shape == (3, 64, 64) and tensor.dtype == np.float32
    assert geometry == Letterbox(width=600, height=800, scale_x=0.08, scale_y=0.08, pad_x=8, pad_y=0)
    np.testing.assert_allclose(tensor[:, :, :8], GREY, rtol=1e-6)
    np.testing.assert_allclose(tensor[:, :, 8:56], 1.0)
    np.testing.assert_allclose(tensor[:, :, 56:], GREY, rtol=1e-6)


def test_letterbox_of_a_landscape_photo_with_odd_padding() -> None:
    # 100 x 73 into 64: scale = min(0.64, 0.877) = 0.64 -> 64 x round(46.72) = 47; 17 rows of padding:
    # (64 - 47) // 2 = 8 above, 9 below
    tensor, geometry = letterbox(np.zeros((73, 100, 3), dtype=np.uint8), 64)
    assert geometry == Letterbox(width=100, height=73, scale_x=0.64, scale_y=47 / 73, pad_x=0, pad_y=8)
    np.testing.assert_allclose(tensor[:, :8], GREY, rtol=1e-6)
    np.testing.assert_allclose(tensor[:, 8:55], 0.0)
    np.testing.assert_allclose(tensor[:, 55:], GREY, rtol=1e-6)
    # the photo's own corners in input pixels map back to the whole photo
    whole = geometry.to_photo(np.array([0.0]), np.array([8.0]), np.array([64.0]), np.array([55.0]))
    np.testing.assert_allclose(whole, [[0.0, 0.0, 1.0, 1.0]], atol=1e-12)


def test_yolov5_score_is_objectness_times_the_best_class_score() -> None:
    rows = np.array(
        [
            # cx, cy, w, h, objectness, animal, person, vehicle
            [32, 32, 16, 16, 0.5, 0.2, 0.6, 0.1],  # person: 0.5 x 0.6 = 0.3; corners 24..40 -> 24/64 = 0.375
            [10, 10, 4, 4, 0.9, 0.1, 0.1, 0.1],  # 0.9 x 0.1 = 0.09: under the 0.1 floor
            [50, 50, 8, 8, 1.0, 0.0, 0.0, 0.0],  # no class at all
        ],
        dtype=np.float32,
    )
    assert decode_yolov5(rows, SQUARE_64, LABELS, CATEGORIES) == [Box("person", 0.3, (0.375, 0.375, 0.25, 0.25))]


def test_ultralytics_takes_the_class_score_from_transposed_columns() -> None:
    rows = np.array(
        [
            # cx, cy, w, h, animal, person, vehicle
            [16, 48, 8, 16, 0.05, 0.02, 0.7],  # vehicle 0.7; x 12..20 -> 0.1875, y 40..56 -> 0.625, w 0.125, h 0.25
            [40, 40, 8, 8, 0.09, 0.0, 0.0],  # under the floor
            [40, 8, 8, 8, np.nan, 0.0, 0.0],  # a NaN score is never a box
        ],
        dtype=np.float32,
    )
    boxes = decode_ultralytics(rows.T, SQUARE_64, LABELS, CATEGORIES)
    assert boxes == [Box("vehicle", 0.7, (0.1875, 0.625, 0.125, 0.25))]


def test_a_row_with_a_coordinate_that_is_not_finite_is_no_box() -> None:
    rows = np.array(
        [
            [16, 16, 8, 8, 0.9, 0.0, 0.0],  # x, y 12..20 -> 0.1875
            [17, 16, 8, 8, 0.8, 0.0, 0.0],  # IoU with the first = 7 x 8 / (128 - 56) = 0.78: suppressed
            [10, 10, np.inf, 4, 0.0, 0.5, 0.0],  # before the fix: a full-width person, and class 0 offsets of NaN
            [40, 40, 8, np.nan, 0.0, 0.0, 0.6],
        ],
        dtype=np.float32,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no "invalid value" RuntimeWarning from the arithmetic
        boxes = decode_ultralytics(rows.T, SQUARE_64, LABELS, CATEGORIES)
    assert boxes == [Box("animal", 0.9, (0.1875, 0.1875, 0.125, 0.125))]


@pytest.mark.parametrize(
    ("decode", "shape", "layout"),
    [(decode_yolov5, (20, 7), r"\[N, 5 \+ classes\]"), (decode_ultralytics, (8, 20), r"\[4 \+ classes, N\]")],
)
def test_an_output_of_the_wrong_width_is_refused(
    decode: Callable[..., list[Box]], shape: tuple[int, int], layout: str
) -> None:
    with pytest.raises(ValueError, match=layout):
        decode(np.zeros(shape, dtype=np.float32), SQUARE_64, LABELS, CATEGORIES)


def test_at_most_max_boxes_are_kept_the_best_ones() -> None:
    # 150 separate 4x4 boxes on a 15 x 10 grid of 6-pixel steps (no overlap), scores rising from 0.2
    grid = [(3 + 6 * (i % 15), 3 + 6 * (i // 15)) for i in range(150)]
    scores = [0.2 + 0.005 * i for i in range(150)]
    rows = np.array([[x, y, 4, 4, s, 0, 0] for (x, y), s in zip(grid, scores, strict=True)], dtype=np.float32)
    geometry = Letterbox(width=96, height=96, scale_x=1.0, scale_y=1.0, pad_x=0, pad_y=0)
    boxes = decode_ultralytics(rows.T, geometry, LABELS, CATEGORIES)
    assert len(boxes) == MAX_BOXES == 100
    assert [b.score for b in boxes] == [round(float(np.float32(s)), 4) for s in reversed(scores[50:])]


def test_per_class_nms_never_suppresses_across_classes_even_with_negative_corners() -> None:
    corners = np.array([[-10, -10, 10, 10], [-10, -10, 10, 10], [-9, -9, 10, 10], [90, 90, 110, 110]], dtype=float)
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    classes = np.array([0, 1, 0, 1])
    # row 2 overlaps row 0 (IoU = 361 / 400 = 0.9025) in class 0: suppressed; row 1 is the same box in class 1
    assert per_class_nms(corners, scores, classes, 0.45) == [0, 1, 3]


# --- through onnxruntime ---


@pytest.mark.parametrize("family", FAMILIES)
def test_a_portrait_jpeg(tmp_path: Path, family: str) -> None:
    # 600x800 for 64: draft asks for (48, 64), 600 // 48 = 12 -> 1/8 -> 75 x 100. Letterbox: scale 0.64 ->
    # 48 x 64, pad_x = 8. Box x 20..44 -> (20 - 8) / 48 = 0.25, w 24 / 48 = 0.5; y 16..48 -> 0.25, h 0.5
    detector = open_detector(detector_model(tmp_path, family=family, boxes=[FakeBox(32, 32, 24, 32, 0, 0.9)]))
    prepared = detector.prepare(photo(600, 800))
    assert (prepared.geometry.width, prepared.geometry.height, prepared.geometry.pad_x) == (75, 100, 8)
    assert detect(detector, photo(600, 800)) == [Box("animal", 0.9, (0.25, 0.25, 0.5, 0.5))]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_1080p_jpeg(tmp_path: Path, family: str) -> None:
    # 1920x1080 for 64: draft asks for (64, 36), 1920 // 64 = 30 -> 1/8 -> 240 x 135. Letterbox: scale 64/240
    # -> 64 x 36, pad_y = (64 - 36) // 2 = 14. Box x 16..48 -> 0.25, w 0.5; y 23..41 -> (23 - 14) / 36 = 0.25, h 0.5
    detector = open_detector(detector_model(tmp_path, family=family, boxes=[FakeBox(32, 32, 32, 18, 1, 0.75)]))
    prepared = detector.prepare(photo(1920, 1080))
    assert (prepared.geometry.width, prepared.geometry.height, prepared.geometry.pad_y) == (240, 135, 14)
    assert detect(detector, photo(1920, 1080)) == [Box("person", 0.75, (0.25, 0.25, 0.5, 0.5))]


@pytest.mark.parametrize("family", FAMILIES)
def test_an_800x600_jpeg_and_boxes_touching_the_padding(tmp_path: Path, family: str) -> None:
    # 800x600 -> 100 x 75 (1/8) -> 64 x 48 in the input, pad_y = 8: the photo is rows 8..56
    boxes = [
        FakeBox(16, 20, 16, 12, 2, 0.6),  # x 8..24 -> 0.125, w 0.25; y 14..26 -> (14 - 8) / 48 = 0.125, h 0.25
        FakeBox(32, 10, 16, 8, 0, 0.9),  # y 6..14: top in the padding, clipped to 0; bottom 6 / 48 = 0.125
        FakeBox(62, 40, 12, 8, 1, 0.8),  # x 56..68: past the input's edge, right clipped to 1; y (36 - 8) / 48
        FakeBox(32, 3, 20, 6, 0, 0.7),  # y 0..6: wholly in the padding, no height left: dropped
    ]
    detector = open_detector(detector_model(tmp_path, family=family, boxes=boxes))
    assert detect(detector, photo(800, 600)) == [
        Box("animal", 0.9, (0.375, 0.0, 0.25, 0.125)),
        Box("person", 0.8, (0.875, 0.5833, 0.125, 0.1667)),  # 28 / 48, then 0.75 - 0.5833 = 8 / 48
        Box("vehicle", 0.6, (0.125, 0.125, 0.25, 0.25)),
    ]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(("shift", "kept"), [(7, False), (8, True)])
def test_overlapping_boxes_of_one_class(tmp_path: Path, family: str, shift: int, kept: bool) -> None:
    # Two 20x20 boxes, the second shifted right by d: IoU = 20(20 - d) / (800 - 20(20 - d)) = (20 - d) / (20 + d)
    # d = 7: 13 / 27 = 0.481 > 0.45, suppressed; d = 8: 12 / 28 = 0.429, kept. A 64x64 photo maps 1:1 (/ 64).
    boxes = [FakeBox(30, 30, 20, 20, 0, 0.9), FakeBox(30 + shift, 30, 20, 20, 0, 0.8)]
    detector = open_detector(detector_model(tmp_path, family=family, boxes=boxes))
    best = Box("animal", 0.9, (0.3125, 0.3125, 0.3125, 0.3125))  # 20..40 -> 20 / 64
    second = Box("animal", 0.8, ((20 + shift) / 64, 0.3125, 0.3125, 0.3125))
    assert detect(detector, photo(64, 64)) == ([best, second] if kept else [best])


@pytest.mark.parametrize("family", FAMILIES)
def test_the_same_box_in_two_classes_is_kept_twice(tmp_path: Path, family: str) -> None:
    boxes = [FakeBox(30, 30, 20, 20, 2, 0.5), FakeBox(30, 30, 20, 20, 1, 0.7)]
    detector = open_detector(detector_model(tmp_path, family=family, boxes=boxes))
    assert detect(detector, photo(64, 64)) == [
        Box("person", 0.7, (0.3125, 0.3125, 0.3125, 0.3125)),
        Box("vehicle", 0.5, (0.3125, 0.3125, 0.3125, 0.3125)),
    ]


@pytest.mark.parametrize("family", FAMILIES)
def test_scores_under_the_floor_are_dropped(tmp_path: Path, family: str) -> None:
    boxes = [FakeBox(16, 16, 8, 8, 0, 0.0999), FakeBox(48, 48, 8, 8, 0, 0.1)]  # floor: score >= 0.1
    detector = open_detector(detector_model(tmp_path, family=family, boxes=boxes))
    assert detect(detector, photo(64, 64)) == [Box("animal", 0.1, (0.6875, 0.6875, 0.125, 0.125))]  # 44 / 64


@pytest.mark.parametrize("family", FAMILIES)
def test_a_coco_model_keeps_only_labels_with_a_category(tmp_path: Path, family: str) -> None:
    labels = ("person", "bicycle", "car", "cat", "dog")
    boxes = [
        FakeBox(12, 12, 8, 8, 4, 0.95),  # dog: no category, dropped before NMS ...
        FakeBox(12, 12, 8, 8, 3, 0.9),  # ... so the cat under it survives: x, y 8..16 -> 0.125
        FakeBox(40, 12, 8, 8, 0, 0.7),  # person: 36..44 -> 0.5625
        FakeBox(12, 40, 8, 8, 2, 0.6),  # car
        FakeBox(40, 40, 8, 8, 1, 0.5),  # bicycle: dropped
    ]
    categories = {"cat": "animal", "person": "person", "car": "vehicle"}
    manifest = detector_model(tmp_path, family=family, boxes=boxes, labels=labels, categories=categories)
    assert detect(open_detector(manifest), photo(64, 64)) == [
        Box("animal", 0.9, (0.125, 0.125, 0.125, 0.125)),
        Box("person", 0.7, (0.5625, 0.125, 0.125, 0.125)),
        Box("vehicle", 0.6, (0.125, 0.5625, 0.125, 0.125)),
    ]


def test_without_categories_labels_that_are_not_categories_are_dropped(tmp_path: Path) -> None:
    boxes = [FakeBox(12, 12, 8, 8, 3, 0.9), FakeBox(40, 40, 8, 8, 0, 0.8)]
    manifest = detector_model(tmp_path, boxes=boxes, labels=("animal", "person", "vehicle", "empty"))
    assert detect(open_detector(manifest), photo(64, 64)) == [Box("animal", 0.8, (0.5625, 0.5625, 0.125, 0.125))]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("batch", [None, 1])
def test_a_batch_gives_each_photo_its_own_boxes(tmp_path: Path, family: str, batch: int | None) -> None:
    # The score is 0.8 x the input's mean: white 1.0, black 0 (no box), grey 128 / 255 -> 0.8 x 0.50196 = 0.4016.
    # A fixed batch of 1 is run one photo at a time.
    manifest = brightness_detector_model(tmp_path, family=family, boxes=[FakeBox(32, 32, 16, 16, 0, 0.8)], batch=batch)
    detector = open_detector(manifest)
    assert detector.model.max_batch == batch
    prepared = [detector.prepare(photo(64, 64, colour)) for colour in [(255,) * 3, (0,) * 3, (128,) * 3]]
    outputs = detector.infer([p.tensor for p in prepared])
    white, black, grey = (detector.boxes(o, p.geometry) for o, p in zip(outputs, prepared, strict=True))
    assert white == [Box("animal", 0.8, (0.375, 0.375, 0.25, 0.25))]  # 24..40 -> 0.375
    assert black == []
    assert grey == [Box("animal", 0.4016, (0.375, 0.375, 0.25, 0.25))]


def test_a_fixed_batch_above_one_takes_only_that_many(tmp_path: Path) -> None:
    detector = open_detector(detector_model(tmp_path, boxes=[FakeBox(32, 32, 16, 16, 0, 0.8)], batch=2))
    tensor = detector.prepare(photo(64, 64)).tensor
    assert [o.shape for o in detector.infer([tensor, tensor])] == [(20, 8), (20, 8)]
    with pytest.raises(ModelError, match="takes batches of exactly 2 images"):
        detector.infer([tensor, tensor, tensor])


@pytest.mark.parametrize("family", FAMILIES)
def test_a_channels_last_detector(tmp_path: Path, family: str) -> None:
    manifest = brightness_detector_model(
        tmp_path, family=family, boxes=[FakeBox(16, 16, 8, 8, 1, 0.5)], channels_last=True
    )
    detector = open_detector(manifest)
    assert detector.model.input.channels_last
    assert detect(detector, photo(64, 64, (255, 255, 255))) == [Box("person", 0.5, (0.1875, 0.1875, 0.125, 0.125))]
    assert detect(detector, photo(64, 64, (0, 0, 0))) == []


def test_jpeg_draft_decodes_a_large_photo_smaller_with_the_same_boxes(tmp_path: Path) -> None:
    # 4000x3000 for 640: draft asks for (640, 480), 4000 // 640 = 6 -> 1/4 -> 1000 x 750. Letterbox either way:
    # 640 x 480, pad_y = 80. Box x 288..352 -> 288 / 640 = 0.45, w 0.1; y 296..344 -> (296 - 80) / 480 = 0.45
    manifest = detector_model(tmp_path, input_size=640, boxes=[FakeBox(320, 320, 64, 48, 0, 0.9)])
    detector = open_detector(manifest)
    data = photo(4000, 3000)
    drafted = detector.prepare(data)
    full = detector.prepare_pixels(decode_rgb(data))
    assert (drafted.geometry.width, drafted.geometry.height) == (1000, 750)
    assert (full.geometry.width, full.geometry.height) == (4000, 3000)
    outputs = detector.infer([drafted.tensor, full.tensor])
    expected = [Box("animal", 0.9, (0.45, 0.45, 0.1, 0.1))]
    assert detector.boxes(outputs[0], drafted.geometry) == expected
    assert detector.boxes(outputs[1], full.geometry) == expected


def test_draft_never_shrinks_the_longer_side_below_the_input_size() -> None:
    # 1300x975 for 640: 1300 / 640 = 2.03 allows 1/2, 650 x 488; 1279 wide does not (639 < 640)
    assert decode_rgb(photo(1300, 975), at_least=640).shape == (488, 650, 3)
    assert decode_rgb(photo(1279, 959), at_least=640).shape == (959, 1279, 3)
    assert decode_rgb(photo(300, 200), at_least=640).shape == (200, 300, 3)  # never enlarged


def test_a_very_thin_jpeg_is_decoded(tmp_path: Path) -> None:
    # Before the fix: the draft size asked for 2 / 3.125 = 0.64 -> 0 rows, and Pillow divided by zero.
    assert decode_rgb(photo(2000, 2), at_least=640).shape == (1, 1000, 3)  # 1/2 still covers 640
    detector = open_detector(detector_model(tmp_path, boxes=[FakeBox(32, 32, 64, 64, 0, 0.9)]))
    assert detect(detector, photo(2000, 2)) == [Box("animal", 0.9, (0.0, 0.0, 1.0, 1.0))]


def test_bytes_that_are_not_a_photo_are_unreadable(tmp_path: Path) -> None:
    detector = open_detector(detector_model(tmp_path))
    with pytest.raises(UnreadableImage, match="not a readable image"):
        detector.prepare(b"GIF89a but not really")
    with pytest.raises(UnreadableImage, match="cannot be decoded"):
        detector.prepare(photo(640, 480)[:2000])  # truncated
