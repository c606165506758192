"""MegaDetector batch-output JSON: entries from rows, files parsed and checked, entries matched to images."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from addax.domain.megadetector import (
    DETECTION_CATEGORIES,
    Box,
    ExportImage,
    ImageResult,
    ImportedBox,
    ResultsFormatError,
    batch_header,
    camera_folder,
    category_of,
    export_path,
    image_entry,
    label_of,
    parse_results,
)
from addax.domain.results import Candidate, LoadReport, MatchKind, StoredBox, lookup_names, match, same_boxes
from tests.formats.megadetector_validate import validate_batch_results

SHA_A = "a1" * 32
SHA_B = "b2" * 32

DEER = Box(
    label="animal",
    score=0.93,
    bbox=(0.1, 0.2, 0.3, 0.4),
    classifications=(("Capreolus capreolus", 0.88), ("Cervus elaphus", 0.07)),
)
WALKER = Box(label="person", score=0.71, bbox=(0.5, 0.5, 0.25, 0.5))


def document(*images: ExportImage) -> dict[str, Any]:
    head, taxon_ids = batch_header(
        detector="md_v5a.0.0.onnx",
        classifier="deepfaune-1.3",
        taxa=[("Capreolus capreolus", "roe deer"), ("Cervus elaphus", None)],
        completed_at=datetime(2024, 5, 1, 12, 30, tzinfo=UTC),
        threshold=0.5,
    )
    entries = [image_entry(image, taxon_ids) for image in images]
    return head | {"images": [entry for entry in entries if entry is not None]}


def valid_file(tmp_path: Path) -> dict[str, Any]:
    return document(
        ExportImage(file="cam 1/IMG_0001.JPG", sha256=SHA_A, kind="photo", stage="done", boxes=(DEER, WALKER)),
        ExportImage(file="cam 1/IMG_0002.JPG", sha256=SHA_B, kind="photo", stage="done"),
    )


def test_categories_both_ways() -> None:
    assert DETECTION_CATEGORIES == {"1": "animal", "2": "person", "3": "vehicle"}
    assert [category_of(label) for label in ("animal", "person", "vehicle")] == ["1", "2", "3"]
    for label in DETECTION_CATEGORIES.values():
        assert label_of(category_of(label), DETECTION_CATEGORIES) == label
    with pytest.raises(ValueError, match="not a detection label: 'bird'"):
        category_of("bird")
    # by the name the file gives its id, whatever the id; names that are not ours are "no detection"
    assert label_of("7", {"7": "Vehicle "}) == "vehicle"
    assert label_of("4", {"4": "group"}) is None
    with pytest.raises(KeyError):
        label_of("9", DETECTION_CATEGORIES)


def test_paths_are_camera_and_name_and_unique() -> None:
    assert export_path("cam 1", "IMG_0001.JPG", nth=1, sha256=SHA_A) == "cam 1/IMG_0001.JPG"
    assert export_path(None, "IMG_0001.JPG", nth=1, sha256=SHA_A) == "IMG_0001.JPG"
    assert export_path("  ", "IMG_0001.JPG", nth=1, sha256=SHA_A) == "IMG_0001.JPG"
    assert export_path("path:gate/north", "a.jpg", nth=1, sha256=SHA_A) == "path:gate_north/a.jpg"
    assert export_path("..", "a.jpg", nth=1, sha256=SHA_A) == "__/a.jpg"
    # the second image of one path (a counter that started again) gets a prefix of its hash
    assert export_path("cam 1", "IMG_0001.JPG", nth=2, sha256=SHA_B) == "cam 1/IMG_0001~b2b2b2b2.JPG"
    assert export_path("cam 1", "README", nth=3, sha256=SHA_B) == "cam 1/README~b2b2b2b2"
    assert camera_folder("a\\b") == "a_b"


def test_image_entries() -> None:
    _, taxon_ids = batch_header(
        detector="md", classifier="clf", taxa=[("Capreolus capreolus", "roe deer")], completed_at=None
    )
    photo = ExportImage(file="c/x.jpg", sha256=SHA_A, kind="photo", stage="done", boxes=(DEER, WALKER))
    assert image_entry(photo, taxon_ids) == {
        "file": "c/x.jpg",
        "sha256": SHA_A,
        "detections": [
            {"category": "1", "conf": 0.93, "bbox": [0.1, 0.2, 0.3, 0.4], "classifications": [["0", 0.88]]},
            {"category": "2", "conf": 0.71, "bbox": [0.5, 0.5, 0.25, 0.5]},
        ],
    }
    empty = ExportImage(file="c/y.jpg", sha256=SHA_A, kind="photo", stage="detected")
    assert image_entry(empty, taxon_ids) == {"file": "c/y.jpg", "sha256": SHA_A, "detections": []}
    failed = ExportImage(file="c/z.jpg", sha256=SHA_A, kind="photo", stage="failed", last_error="truncated JPEG")
    assert image_entry(failed, taxon_ids) == {
        "file": "c/z.jpg",
        "sha256": SHA_A,
        "failure": "truncated JPEG",
        "detections": None,
    }
    # failed later than detection: its boxes are what the detector said
    assert image_entry(ExportImage("c/w.jpg", SHA_A, "photo", "failed", boxes=(WALKER,)), taxon_ids)["detections"]
    whole = Box(label="vehicle", score=1, bbox=(0, 0, 1, 1))
    conf = image_entry(ExportImage("c/v.jpg", SHA_A, "photo", "done", boxes=(whole,)), taxon_ids)["detections"][0]
    assert isinstance(conf["conf"], float) and conf["bbox"] == [0.0, 0.0, 1.0, 1.0]


def test_videos_need_a_frame_rate() -> None:
    at_10s = Box(label="animal", score=0.8, bbox=(0.1, 0.1, 0.2, 0.2), frame_offset_s=10.0)
    unknown = ExportImage(file="c/v.mp4", sha256=SHA_A, kind="video", stage="done", boxes=(at_10s,))
    assert image_entry(unknown, {}) is None
    known = ExportImage(file="c/v.mp4", sha256=SHA_A, kind="video", stage="done", boxes=(at_10s,), frame_rate=30.0)
    entry = image_entry(known, {})
    assert entry is not None and entry["frame_rate"] == 30.0 and entry["detections"][0]["frame_number"] == 300


def test_header() -> None:
    head, taxon_ids = batch_header(
        detector="md_v5a.0.0.onnx",
        classifier=None,
        taxa=[("Capreolus capreolus", "roe deer"), ("Vulpes vulpes", None)],
        completed_at=datetime(2024, 5, 1, 12, 30, 5, tzinfo=UTC),
        threshold=0.2,
    )
    assert taxon_ids == {"Capreolus capreolus": "0", "Vulpes vulpes": "1"}
    assert head == {
        "info": {
            "format_version": "1.4",
            "detector": "md_v5a.0.0.onnx",
            "detection_completion_time": "2024-05-01 12:30:05",
            "detector_metadata": {"typical_detection_threshold": 0.2},
            "classifier": "imported",
        },
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "classification_categories": {"0": "Capreolus capreolus", "1": "Vulpes vulpes"},
        "classification_category_descriptions": {"0": "roe deer"},
    }
    bare, _ = batch_header(detector=None, classifier=None, taxa=[], completed_at=None)
    assert bare == {"info": {"format_version": "1.4"}, "detection_categories": DETECTION_CATEGORIES}


def test_what_we_write_passes_megadetectors_checks_and_reads_back(tmp_path: Path) -> None:
    written = document(
        ExportImage(file="cam 1/IMG_0001.JPG", sha256=SHA_A, kind="photo", stage="done", boxes=(DEER, WALKER)),
        ExportImage(file="cam 1/IMG_0002.JPG", sha256=SHA_B, kind="photo", stage="failed", last_error="bad"),
        ExportImage(file="v.MP4", sha256=SHA_B, kind="video", stage="done", boxes=(WALKER,), frame_rate=25),
    )
    path = tmp_path / "md.json"
    path.write_text(json.dumps(written))
    outcome = validate_batch_results(path)["validation_results"]
    assert outcome["errors"] == [] and outcome["warnings"] == []

    batch = parse_results(json.loads(path.read_text()))
    assert (batch.format_version, batch.detector, batch.classifier) == ("1.4", "md_v5a.0.0.onnx", "deepfaune-1.3")
    first, failed, video = batch.images
    assert first == ImageResult(
        file="cam 1/IMG_0001.JPG",
        sha256=bytes.fromhex(SHA_A),
        boxes=(
            ImportedBox(
                "animal",
                0.93,
                (0.1, 0.2, 0.3, 0.4),
                classifications=(("Capreolus capreolus", "roe deer", 0.88), ("Cervus elaphus", None, 0.07)),
            ),
            ImportedBox("person", 0.71, (0.5, 0.5, 0.25, 0.5)),
        ),
    )
    assert failed.failure == "bad" and failed.boxes == ()
    assert video.boxes[0].frame_offset_s == 0.0


def test_the_validator_catches_what_it_should(tmp_path: Path) -> None:
    """The copy of MegaDetector's checks is not a rubber stamp."""
    path = tmp_path / "bad.json"
    cases = [
        (lambda d: d["images"][0]["detections"][0].update(conf=1), "illegal confidence"),
        (lambda d: d["images"][0]["detections"][0].update(category="9"), "unmapped category 9"),
        (lambda d: d["images"][1].update(failure="x"), "failure value but a non-null detections array"),
        (lambda d: d["info"].pop("format_version"), "does not specify format version"),
        (lambda d: d["images"][0].pop("file"), "without filename"),
    ]
    for damage, error in cases:
        damaged = copy.deepcopy(valid_file(tmp_path))
        damage(damaged)
        path.write_text(json.dumps(damaged))
        (found,) = validate_batch_results(path)["validation_results"]["errors"]
        assert error in found


def problems_of(damage: Any, tmp_path: Path) -> str:
    damaged = copy.deepcopy(valid_file(tmp_path))
    damage(damaged)
    with pytest.raises(ResultsFormatError) as raised:
        parse_results(damaged)
    return str(raised.value)


def test_malformed_files_name_the_image_and_field(tmp_path: Path) -> None:
    where = "images[0] 'cam 1/IMG_0001.JPG': detections[0]"

    def detection(**change: Any) -> Any:
        return lambda d: d["images"][0]["detections"][0].update(change)

    assert f"{where}.bbox [0.1, 0.2, 0.3] is not [x, y, width, height]" in problems_of(
        detection(bbox=[0.1, 0.2, 0.3]), tmp_path
    )
    assert f"{where}.bbox [0.5, 0.5, 0.7, 0.1] is not within the image" in problems_of(
        detection(bbox=[0.5, 0.5, 0.7, 0.1]), tmp_path
    )
    assert "negative width" in problems_of(detection(bbox=[0.5, 0.5, -0.1, 0.1]), tmp_path)
    assert f"{where}.conf 1.7 is not a number within 0..1" in problems_of(detection(conf=1.7), tmp_path)
    assert f"{where}.conf True is not a number" in problems_of(detection(conf=True), tmp_path)
    assert f"{where}.category '4' is not one of detection_categories (1 animal, 2 person, 3 vehicle)" in problems_of(
        detection(category="4"), tmp_path
    )
    assert f"{where}.classifications[0] category '9' is not one of classification_categories" in problems_of(
        detection(classifications=[["9", 0.5]]), tmp_path
    )
    assert "images[1] has no file field" in problems_of(lambda d: d["images"][1].pop("file"), tmp_path)
    assert "images[1] 'cam 1/IMG_0002.JPG': detections is missing" in problems_of(
        lambda d: d["images"][1].pop("detections"), tmp_path
    )
    assert "has a failure ('x') but its detections are not null" in problems_of(
        lambda d: d["images"][0].update(failure="x"), tmp_path
    )
    assert "sha256 'abc' is not 64 hex digits" in problems_of(lambda d: d["images"][0].update(sha256="abc"), tmp_path)
    assert "info.format_version None" in problems_of(lambda d: d["info"].pop("format_version"), tmp_path)
    assert "detection_categories is missing" in problems_of(lambda d: d.pop("detection_categories"), tmp_path)
    with pytest.raises(ResultsFormatError, match="the top level is not a JSON object"):
        parse_results([])


def test_every_problem_is_counted_and_a_few_shown(tmp_path: Path) -> None:
    def many(d: dict[str, Any]) -> None:
        for detection in d["images"][0]["detections"]:
            detection.update(conf=2.0, bbox="x")
        d["images"][1].pop("file")

    with pytest.raises(ResultsFormatError) as raised:
        parse_results(_damaged(valid_file(tmp_path), many))
    assert len(raised.value.problems) == 5
    assert str(raised.value).endswith("(and 2 more)") and "\n" not in str(raised.value)


def _damaged(document: dict[str, Any], damage: Any) -> dict[str, Any]:
    damage(document)
    return document


def test_what_is_kept_of_a_file_from_elsewhere() -> None:
    batch = parse_results(
        {
            "info": {"format_version": "1.3", "detector": "md_v5a.0.0.pt"},
            "detection_categories": {"1": "animal", "2": "person", "3": "vehicle", "4": "group"},
            "classification_categories": {str(n): f"taxon {n}" for n in range(7)},
            "classification_category_descriptions": {
                "6": "5c7ce479;mammalia;carnivora;canidae;vulpes;vulpes;red fox",
                "5": "f2d233e3;mammalia;carnivora;;;;carnivorous mammal",
            },
            "images": [
                {
                    "file": "DCIM\\100MEDIA\\IMG_0001.JPG",
                    "max_detection_conf": 0.9,
                    "detections": [
                        {"category": "4", "conf": 0.9, "bbox": [0, 0, 1, 1]},
                        {
                            "category": "1",
                            "conf": 1,
                            "bbox": [-0.001, 0.5, 1.002, 0.5],
                            "classifications": [[str(n), n / 10] for n in range(7)],
                        },
                    ],
                },
                {"file": "DCIM/100MEDIA/IMG_0002.JPG", "failure": "Failure image access"},
            ],
        }
    )
    (box,) = batch.images[0].boxes
    assert batch.images[0].ignored == 1  # "group" is not animal, person or vehicle: no detection
    assert box.bbox == (0.0, 0.5, 1.0, 0.5)  # rounding past the edge is clamped
    assert [taxon for taxon, _, _ in box.classifications] == [
        "Vulpes vulpes",
        "Carnivora",
        "taxon 4",
        "taxon 3",
        "taxon 2",
    ]  # best first, five at most; SpeciesNet's taxonomy strings give the lowest rank named
    assert box.classifications[0][1] == "red fox"
    assert batch.images[1].failure == "Failure image access"


def candidate(image_id: int, name: str, sha: str, camera: str | None = None, upload_path: str = "") -> Candidate:
    return Candidate(image_id, name, bytes.fromhex(sha), camera=camera, upload_path=upload_path)


def test_entries_find_their_images() -> None:
    north = candidate(1, "IMG_0001.JPG", SHA_A, camera="cam north", upload_path="DCIM/100MEDIA")
    south = candidate(2, "IMG_0001.JPG", SHA_B, camera="cam south", upload_path="DCIM/101MEDIA")
    both = [north, south]

    def found(file: str, candidates: list[Candidate], sha: str | None = None) -> Any:
        result = match(ImageResult(file=file, sha256=bytes.fromhex(sha) if sha else None), candidates)
        return result.image.image_id if result.image else result.kind

    assert found("anything/else.jpg", both, SHA_B) == 2  # the hash decides
    assert found("cam north/IMG_0001.JPG", both, "cc" * 32) is MatchKind.UNMATCHED  # other bytes than ours
    assert found("IMG_0001.JPG", [north]) == 1
    assert found("E:\\card\\IMG_0001.JPG", [north]) == 1
    assert found("IMG_0001.JPG", both) is MatchKind.AMBIGUOUS
    assert found("cam south/IMG_0001.JPG", both) == 2  # as an export writes it
    assert found("/media/sd/DCIM/100MEDIA/IMG_0001.JPG", both) == 1  # MegaDetector run on the card
    assert found("elsewhere/IMG_0001.JPG", both) is MatchKind.AMBIGUOUS
    assert found("IMG_0002.JPG", both) is MatchKind.UNMATCHED
    again = candidate(3, "IMG_0001.JPG", "c3" * 32, camera="cam north")
    assert found("cam north/IMG_0001~c3c3c3c3.JPG", [north, south, again]) == 3
    assert lookup_names("cam north/IMG_0001~c3c3c3c3.JPG") == ("IMG_0001~c3c3c3c3.JPG", "IMG_0001.JPG")
    assert lookup_names("a/b/") == ("b",) and lookup_names("") == ()


def test_boxes_compare_as_the_database_keeps_them() -> None:
    wanted = [ImportedBox("animal", 0.926, (0.1, 0.2, 0.3, 0.4))]
    as_float4 = StoredBox("animal", 0.9259999990463257, (0.10000000149011612, 0.2, 0.30000001192092896, 0.4), "md")
    assert same_boxes([as_float4], wanted, "md")
    assert not same_boxes([as_float4], wanted, "other model")
    assert not same_boxes([as_float4], [*wanted, *wanted], "md")
    assert not same_boxes([StoredBox("animal", 0.927, (0.1, 0.2, 0.3, 0.4), "md")], wanted, "md")


def test_report_summary() -> None:
    report = LoadReport(moved=2, unchanged=1, unmatched=[f"x{n}.jpg" for n in range(12)], ambiguous=["a.jpg"])
    report.skipped += [("f.jpg", "failure in the file"), ("g.jpg", "failure in the file"), ("h.jpg", "image failed")]
    lines = report.summary().splitlines()
    assert lines[0] == (
        "3 matched (2 moved on to classification, 0 replaced, 1 unchanged), 12 unmatched, 1 ambiguous, 3 skipped"
    )
    assert lines[1].startswith("unmatched: x0.jpg, x1.jpg") and lines[1].endswith("x9.jpg and 2 more")
    assert lines[2] == "ambiguous (several photos of that name): a.jpg"
    assert lines[3] == "skipped: failure in the file 2, image failed 1"
