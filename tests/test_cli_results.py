"""`addax export megadetector` and `addax import-results` as an operator types them, against a real database."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from addax.store import audit
from tests.formats.factories import Rows
from tests.formats.megadetector_validate import validate_batch_results
from tests.test_cli import cli, db, fails

__all__ = ["db"]  # the fixture


async def test_export_and_import_round_trip(fresh_dsn: str, db: asyncpg.Pool, tmp_path: Path) -> None:
    await cli(fresh_dsn, "project", "add", "wolves")
    rows = Rows(db, int(await db.fetchval("SELECT id FROM projects WHERE name = 'wolves'")))
    camera = await rows.camera("cam 1")
    seen, _ = await rows.image("IMG_0001.JPG", camera_id=camera)
    await rows.boxes(seen, ("animal", 0.9, (0.1, 0.2, 0.3, 0.4)), species={0: [("Canis lupus", "wolf", 0.8)]})
    await rows.image("IMG_0002.JPG", camera_id=camera, stage="failed", last_error="truncated JPEG")
    waiting, _ = await rows.image("IMG_0003.JPG", camera_id=camera, stage="stored")

    out = tmp_path / "wolves.json"
    said = await cli(fresh_dsn, "export", "megadetector", "--project", "wolves", str(out))
    assert said == f"2 images written to {out} (1 as failures); left out: 1 not through detection yet\n"
    assert validate_batch_results(out)["validation_results"]["errors"] == []
    document = json.loads(out.read_text())
    assert [entry["file"] for entry in document["images"]] == ["cam 1/IMG_0001.JPG", "cam 1/IMG_0002.JPG"]

    before = await rows.snapshot()
    said = await cli(fresh_dsn, "import-results", str(out), "--project", "wolves")
    assert said.splitlines() == [
        "1 matched (0 moved on to classification, 0 replaced, 1 unchanged), 0 unmatched, 0 ambiguous, 1 skipped",
        "skipped: failure in the file 1",
    ]
    assert await rows.snapshot() == before

    # Results made elsewhere, for the photo still waiting for a detector (and one we do not have).
    elsewhere = tmp_path / "elsewhere.json"
    document["info"] = {"format_version": "1.4", "detector": "md_v5a.0.0.pt"}
    document["images"] = [
        {"file": "cam 1/IMG_0003.JPG", "detections": [{"category": "2", "conf": 0.75, "bbox": [0.5, 0.5, 0.1, 0.2]}]},
        {"file": "cam 1/IMG_0004.JPG", "detections": []},
    ]
    elsewhere.write_text(json.dumps(document))
    said = await cli(fresh_dsn, "import-results", str(elsewhere), "--project", "wolves")
    assert said.splitlines() == [
        "1 matched (1 moved on to classification, 0 replaced, 0 unchanged), 1 unmatched, 0 ambiguous, 0 skipped",
        "unmatched: cam 1/IMG_0004.JPG",
    ]
    assert await rows.detections(waiting) == [("person", 0.75, [0.5, 0.5, 0.1, 0.2], "md_v5a.0.0.pt")]
    assert await rows.stage(waiting) == "detected"
    record = next(row for row in await audit.recent(db, limit=5) if row["action"] == "results.import")
    assert record["details"]["file"] == "elsewhere.json" and record["details"]["matched"] == 1


async def test_bad_files_and_names_are_one_clear_line(fresh_dsn: str, db: asyncpg.Pool, tmp_path: Path) -> None:
    await cli(fresh_dsn, "project", "add", "elk")
    rows = Rows(db, int(await db.fetchval("SELECT id FROM projects WHERE name = 'elk'")))
    await rows.image("IMG_0001.JPG", stage="stored")
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "info": {"format_version": "1.4"},
                "detection_categories": {"1": "animal"},
                "images": [
                    {"file": "IMG_0001.JPG", "detections": [{"category": "1", "conf": 7, "bbox": [0, 0, 1, 1]}]}
                ],
            }
        )
    )
    before = await rows.snapshot()
    line = await fails(fresh_dsn, "import-results", str(bad), "--project", "elk")
    assert line == (
        f"addax: {bad}: not a MegaDetector results file: images[0] 'IMG_0001.JPG': detections[0].conf 7"
        " is not a number within 0..1"
    )
    assert await rows.snapshot() == before
    assert "no project named 'moose'" in await fails(
        fresh_dsn, "export", "megadetector", "--project", "moose", "x.json"
    )
    missing = tmp_path / "no" / "such" / "dir.json"
    assert f"cannot write {missing}" in await fails(
        fresh_dsn, "export", "megadetector", "--project", "elk", str(missing)
    )
