"""MegaDetector results in and out of a real database: export checked by MegaDetector's rules, import by name
and by hash, twice over, and refused whole when the file is malformed."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from addax import results_cli
from addax.domain.megadetector import ImageResult, ImportedBox, parse_results
from addax.store import results
from tests.formats.factories import Rows
from tests.formats.megadetector_validate import validate_batch_results

DEER = ("Capreolus capreolus", "roe deer", 0.88)
FOX = ("Vulpes vulpes", "red fox", 0.09)


async def exported(pool: asyncpg.Pool, rows: Rows, tmp_path: Path) -> tuple[dict, results_cli.ExportTally]:
    out = tmp_path / "md.json"
    tally = await results_cli.export_megadetector(pool, rows.project_id, out)
    outcome = validate_batch_results(out)["validation_results"]
    assert outcome["errors"] == [] and outcome["warnings"] == []
    assert [path.name for path in tmp_path.iterdir()] == ["md.json"]  # no partial file left
    return json.loads(out.read_text()), tally


async def test_export_of_a_project(pool: asyncpg.Pool, unique: str, tmp_path: Path) -> None:
    rows = await Rows.project(pool, f"export-{unique}")
    north = await rows.camera("cam north")
    gate = await rows.camera("path:gate/west")
    deer, deer_sha = await rows.image("IMG_0001.JPG", camera_id=north)
    await rows.boxes(
        deer, ("animal", 0.926, (0.1, 0.2, 0.3, 0.4)), ("person", 0.5, (0.6, 0.1, 0.2, 0.8)), species={0: [DEER, FOX]}
    )
    _, again_sha = await rows.image("IMG_0001.JPG", camera_id=north, stage="classified")  # the counter restarted
    await rows.image("IMG_0002.JPG", camera_id=gate, stage="detected")
    await rows.image("IMG_0003.JPG", camera_id=gate, stage="failed", last_error="truncated JPEG")
    loose, _ = await rows.image("loose.jpg")
    await rows.boxes(loose, ("vehicle", 0.8, (0.0, 0.0, 1.0, 1.0)), model="other-detector")
    await rows.image("waiting.jpg", stage="stored")
    await rows.image("refused.jpg", stage="rejected")
    await rows.image("clip.mp4", kind="video", camera_id=north)
    clip, _ = await rows.image("timed.mp4", kind="video", camera_id=north, exif={"video": {"frame_rate": 30}})
    await pool.execute(
        "INSERT INTO detections (image_id, index, label, score, bbox, model, frame_offset_s)"
        " VALUES ($1, 0, 'animal', 0.7, '{0.1,0.1,0.2,0.2}', 'md_v5a.0.0.onnx', 5.0)",
        clip,
    )

    document, tally = await exported(pool, rows, tmp_path)

    assert (tally.written, tally.failures, tally.pending, tally.videos_without_rate) == (6, 1, 1, 1)
    assert tally.summary(Path("md.json")) == (
        "6 images written to md.json (1 as failures); left out: 1 not through detection yet,"
        " 1 videos without a known frame rate"
    )
    info = document["info"]
    assert (info["format_version"], info["detector"], info["classifier"]) == ("1.4", "md_v5a.0.0.onnx", "deepfaune-1.3")
    assert info["detector_metadata"] == {"typical_detection_threshold": 0.5}
    assert document["detection_categories"] == {"1": "animal", "2": "person", "3": "vehicle"}
    assert document["classification_categories"] == {"0": "Capreolus capreolus", "1": "Vulpes vulpes"}
    assert document["classification_category_descriptions"] == {"0": "roe deer", "1": "red fox"}
    by_file = {entry["file"]: entry for entry in document["images"]}
    assert (
        list(by_file)
        == [  # by path; an image without a camera has its bare name
            "loose.jpg",
            "cam north/IMG_0001.JPG",
            f"cam north/IMG_0001~{again_sha[:8]}.JPG",
            "cam north/timed.mp4",
            "path:gate_west/IMG_0002.JPG",
            "path:gate_west/IMG_0003.JPG",
        ]
    )
    assert by_file["cam north/IMG_0001.JPG"] == {
        "file": "cam north/IMG_0001.JPG",
        "sha256": deer_sha,
        "detections": [
            {
                "category": "1",
                "conf": 0.926,
                "bbox": [0.1, 0.2, 0.3, 0.4],
                "classifications": [["0", 0.88], ["1", 0.09]],
            },
            {"category": "2", "conf": 0.5, "bbox": [0.6, 0.1, 0.2, 0.8]},
        ],
    }
    assert by_file[f"cam north/IMG_0001~{again_sha[:8]}.JPG"]["detections"] == []
    assert by_file["path:gate_west/IMG_0002.JPG"]["detections"] == []
    assert by_file["path:gate_west/IMG_0003.JPG"]["failure"] == "truncated JPEG"
    assert by_file["path:gate_west/IMG_0003.JPG"]["detections"] is None
    assert by_file["loose.jpg"]["detections"][0]["category"] == "3"
    assert by_file["cam north/timed.mp4"]["frame_rate"] == 30
    assert by_file["cam north/timed.mp4"]["detections"][0]["frame_number"] == 150


async def test_export_streams_through_a_cursor(pool: asyncpg.Pool, unique: str) -> None:
    rows = await Rows.project(pool, f"stream-{unique}")
    for number in range(25):
        image_id, _ = await rows.image(f"IMG_{number:04d}.JPG")
        await rows.boxes(image_id, ("animal", 0.5, (0.1, 0.1, 0.1, 0.1)))
    async with results.export_images(pool, rows.project_id, prefetch=4) as (facts, images):
        files = [image.file async for image in images]
    assert files == [f"IMG_{number:04d}.JPG" for number in range(25)] and facts.pending == 0


async def test_an_empty_project_exports_an_empty_list(pool: asyncpg.Pool, unique: str, tmp_path: Path) -> None:
    rows = await Rows.project(pool, f"empty-{unique}")
    document, tally = await exported(pool, rows, tmp_path)
    assert document["images"] == [] and tally.written == 0
    assert "classification_categories" not in document and "detector" not in document["info"]


def results_file(*images: dict, detector: str = "md_v5a.0.0.pt") -> dict:
    return {
        "info": {"format_version": "1.4", "detector": detector},
        "detection_categories": {"1": "animal", "2": "person", "3": "vehicle"},
        "images": list(images),
    }


async def test_import_by_name_twice_gives_the_same_rows(pool: asyncpg.Pool, unique: str) -> None:
    rows = await Rows.project(pool, f"byname-{unique}")
    north, south = await rows.camera("cam north"), await rows.camera("cam south")
    card, _ = await rows.image("IMG_0001.JPG", camera_id=north, stage="stored", upload_path="DCIM/100MEDIA")
    other_card, _ = await rows.image("IMG_0001.JPG", camera_id=south, stage="stored", upload_path="DCIM/101MEDIA")
    by_camera, _ = await rows.image("IMG_0002.JPG", camera_id=north, stage="stored")
    lonely, _ = await rows.image("IMG_0003.JPG", stage="stored")
    await rows.image("IMG_0009.JPG", stage="rejected")
    batch = parse_results(
        results_file(
            {
                "file": "/media/sd/DCIM/100MEDIA/IMG_0001.JPG",
                "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.2, 0.3, 0.4]}],
            },
            {
                "file": "cam north\\IMG_0002.JPG",
                "detections": [{"category": "2", "conf": 0.6, "bbox": [0, 0, 0.5, 0.5]}],
            },
            {"file": "IMG_0003.JPG", "detections": []},
            {"file": "elsewhere/IMG_0001.JPG", "detections": []},
            {"file": "IMG_0004.JPG", "detections": []},
            {"file": "IMG_0009.JPG", "detections": []},
            {"file": "IMG_0005.JPG", "failure": "Failure image access", "detections": None},
        )
    )

    report = await results.load_results(pool, rows.project_id, batch.images, batch.detector or "")

    assert (report.moved, report.replaced, report.unchanged) == (3, 0, 0)
    assert report.unmatched == ["IMG_0004.JPG", "IMG_0009.JPG"]  # a rejected file is no image to load
    assert report.ambiguous == ["elsewhere/IMG_0001.JPG"]
    assert report.skipped == [("IMG_0005.JPG", "failure in the file")]
    assert await rows.detections(card) == [("animal", 0.9, [0.1, 0.2, 0.3, 0.4], "md_v5a.0.0.pt")]
    assert await rows.detections(by_camera) == [("person", 0.6, [0.0, 0.0, 0.5, 0.5], "md_v5a.0.0.pt")]
    assert await rows.detections(lonely) == []
    assert [await rows.stage(image) for image in (card, by_camera, lonely, other_card)] == [
        "detected",  # on to classification: the detector is not run on them
        "detected",
        "detected",
        "stored",
    ]

    before = await rows.snapshot()
    again = await results.load_results(pool, rows.project_id, batch.images, batch.detector or "")
    assert (again.moved, again.replaced, again.unchanged) == (0, 0, 3)
    assert await rows.snapshot() == before  # the same rows, ids and times included


async def test_import_by_hash_and_classifications(pool: asyncpg.Pool, unique: str) -> None:
    rows = await Rows.project(pool, f"byhash-{unique}")
    done, done_sha = await rows.image("IMG_0001.JPG", stage="done")
    await rows.boxes(done, ("animal", 0.4, (0.2, 0.2, 0.2, 0.2)), species={0: [DEER]})
    twin, twin_sha = await rows.image("IMG_0001.JPG", stage="stored")
    lion = ImportedBox("animal", 0.97, (0.0, 0.1, 0.5, 0.5), classifications=(("Panthera leo", "lion", 0.9),))
    entries = [
        ImageResult(file="renamed/by/someone.jpg", sha256=bytes.fromhex(done_sha), boxes=(lion,)),
        ImageResult(file="IMG_0001.JPG", sha256=bytes.fromhex(twin_sha)),
        ImageResult(file="IMG_0001.JPG", sha256=bytes.fromhex("00" * 32)),
        ImageResult(file="copy/IMG_0001.JPG", sha256=bytes.fromhex(twin_sha)),
    ]

    report = await results.load_results(pool, rows.project_id, entries, "md_v6", classifier_name="speciesnet")

    assert (report.moved, report.replaced, report.unchanged) == (1, 1, 0)
    assert report.unmatched == ["IMG_0001.JPG"]  # other bytes than any image of ours
    assert report.skipped == [("copy/IMG_0001.JPG", "another entry names the same image")]
    # new boxes on a finished photo: classified, blurred and put in its event again from them
    assert await rows.stage(done) == "detected"
    assert await rows.stage(twin) == "detected"
    species = await pool.fetch(
        "SELECT k.taxon, k.common_name, k.model, k.rank FROM classifications k"
        " JOIN detections d ON d.id = k.detection_id WHERE d.image_id = $1",
        done,
    )
    # the old box went with its species; the file's species came under the file's classifier
    assert [tuple(row) for row in species] == [("Panthera leo", "lion", "speciesnet", 1)]

    before = await rows.snapshot()
    again = await results.load_results(pool, rows.project_id, entries, "md_v6", classifier_name="speciesnet")
    assert (again.moved, again.replaced, again.unchanged) == (0, 0, 2)
    assert await rows.snapshot() == before


async def test_export_then_import_changes_nothing(pool: asyncpg.Pool, unique: str, tmp_path: Path) -> None:
    rows = await Rows.project(pool, f"roundtrip-{unique}")
    camera = await rows.camera("cam a/b")
    for number in range(3):
        image_id, _ = await rows.image("IMG_0001.JPG", camera_id=camera)  # one name three times
        await rows.boxes(
            image_id, ("animal", 0.123456 + number / 10, (0.111111, 0.2, 0.3, 0.4)), species={0: [DEER, FOX]}
        )
    await rows.image("IMG_0002.JPG", camera_id=camera, stage="failed", last_error="model crashed")
    document, _ = await exported(pool, rows, tmp_path)
    batch = parse_results(document)
    before = await rows.snapshot()

    report = await results.load_results(
        pool, rows.project_id, batch.images, batch.detector or "", classifier_name=batch.classifier
    )
    assert (report.matched, report.unchanged, len(report.skipped)) == (3, 3, 1)
    assert await rows.snapshot() == before

    for entry in document["images"]:  # the same file without hashes: matched by camera folder and name
        entry.pop("sha256")
    batch = parse_results(document)
    report = await results.load_results(
        pool, rows.project_id, batch.images, batch.detector or "", classifier_name=batch.classifier
    )
    # the second and third carry a prefix of their hash in the name; the first is any of the three
    assert (report.matched, report.unchanged, report.ambiguous, report.unmatched) == (
        2,
        2,
        ["cam a_b/IMG_0001.JPG"],
        [],
    )
    assert await rows.snapshot() == before


async def test_a_malformed_file_changes_nothing(pool: asyncpg.Pool, unique: str, tmp_path: Path) -> None:
    rows = await Rows.project(pool, f"malformed-{unique}")
    first, _ = await rows.image("IMG_0001.JPG", stage="stored")
    await rows.image("IMG_0002.JPG", stage="stored")
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps(
            results_file(
                {"file": "IMG_0001.JPG", "detections": [{"category": "1", "conf": 0.9, "bbox": [0.1, 0.2, 0.3, 0.4]}]},
                {"file": "IMG_0002.JPG", "detections": [{"category": "1", "conf": 0.9, "bbox": [0.8, 0.2, 0.3, 0.4]}]},
            )
        )
    )
    before = await rows.snapshot()
    with pytest.raises(results_cli.ResultsFileError) as raised:
        await results_cli.read_results(path)
    assert str(raised.value) == (
        f"{path}: not a MegaDetector results file: images[1] 'IMG_0002.JPG': detections[0].bbox [0.8, 0.2, 0.3, 0.4]"
        " is not within the image (normalised 0..1 from the top-left corner)"
    )
    assert await rows.snapshot() == before and await rows.stage(first) == "stored"

    path.write_text('{"info": ')
    with pytest.raises(results_cli.ResultsFileError, match=r"bad\.json is not JSON: Expecting value"):
        await results_cli.read_results(path)
    with pytest.raises(results_cli.ResultsFileError, match=r"cannot read .*missing\.json: No such file"):
        await results_cli.read_results(tmp_path / "missing.json")
