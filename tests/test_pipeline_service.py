"""The pipeline in `addax run` and `addax worker` processes: no detector yet, SIGKILL mid-backlog, scale-out."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import world_readable_tempdir
from tests.domain.jpeg_factory import trail_photo
from tests.models.graphs import FakeBox, detector_model
from tests.service import AddaxProcess, environment

BOXES = [FakeBox(32, 32, 16, 8, 0, 0.9), FakeBox(8, 24, 8, 8, 1, 0.8)]


@pytest.fixture
def addax() -> Iterator[AddaxProcess]:
    home = world_readable_tempdir("addax-pipeline-")
    process = AddaxProcess(home=home, env=environment())
    process.env["ADDAX_MODELS_BATCH_WAIT_MS"] = "5"
    yield process
    process.kill()
    subprocess.run(["rm", "-rf", str(home)], check=False)


def photos(directory: Path, count: int, cameras: int = 3) -> Path:
    directory.mkdir(parents=True)
    for index in range(count):
        name, data = trail_photo(index, cameras)
        (directory / f"{index:04d}-{name}").write_bytes(data)
    return directory


def stages(addax: AddaxProcess) -> dict[str, int]:
    rows = addax.query("SELECT stage::text AS stage, count(*) AS n FROM images GROUP BY stage")
    return {row["stage"]: int(row["n"]) for row in rows}


def import_photos(addax: AddaxProcess, count: int) -> None:
    assert addax.cli("project", "add", "wolves").returncode == 0
    imported = addax.cli("import", str(photos(addax.home / "sd", count)), "--project", "wolves", timeout=600)
    assert imported.returncode == 0, imported.stderr
    assert stages(addax) == {"stored": count}


def assert_processed_exactly_once(addax: AddaxProcess, count: int) -> None:
    assert stages(addax) == {"done": count}
    boxes = addax.value("SELECT count(*) FROM detections")
    assert boxes == count * len(BOXES), "no duplicate boxes"
    doubled = addax.value(
        "SELECT count(*) FROM (SELECT image_id, index FROM detections GROUP BY 1, 2 HAVING count(*) > 1) d"
    )
    assert doubled == 0
    in_events = addax.value("SELECT sum(image_count) FROM events")
    assert in_events == count, "each photo joined its camera's event once"
    assert addax.value("SELECT count(*) FROM images WHERE thumbnail_key IS NULL OR event_id IS NULL") == 0
    assert addax.value("SELECT count(*) FROM images WHERE claimed_by IS NOT NULL") == 0


def test_without_a_detector_the_service_says_so_and_picks_photos_up_once_one_is_installed(addax: AddaxProcess) -> None:
    addax.start()
    health = addax.wait_healthy()
    assert health["status"] == "ok"
    assert any("no detector configured" in notice and "addax models add" in notice for notice in health["notices"])
    doctor = addax.cli("doctor")
    assert "note  models" in doctor.stdout and "no detector configured" in doctor.stdout
    import_photos(addax, 4)
    detector_model(addax.home / "models", boxes=BOXES, name="md")  # no restart
    addax.wait_for(lambda: stages(addax) == {"done": 4}, what="the photos to be processed")
    assert "notices" not in addax.wait_healthy()

    # curl, as an edge device would send one photo: the same boxes, nothing stored
    token = addax.cli("token", "add", "edge", "--project", "wolves").stdout.strip().splitlines()[-1]
    photo = next((addax.home / "sd").iterdir())
    sent = subprocess.run(
        ["curl", "-sS", "-H", f"X-API-Token: {token}", "-F", f"file=@{photo}",
         f"http://127.0.0.1:{addax.http_port}/api/v1/detect"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    answer = json.loads(sent.stdout)
    assert [box["label"] for box in answer["detections"]] == ["animal", "person"]
    assert answer["model"]["detector"]["name"] == "md" and stages(addax) == {"done": 4}
    assert addax.stop() == 0


def test_sigkill_while_the_pipeline_works_through_a_backlog_processes_each_photo_once(addax: AddaxProcess) -> None:
    count = 300
    addax.start()
    addax.wait_healthy()
    import_photos(addax, count)
    detector_model(addax.home / "models", boxes=BOXES, name="md")
    addax.wait_for(lambda: stages(addax).get("done", 0) >= 40, timeout=120, what="40 photos done")
    assert addax.process is not None
    before_kill = stages(addax)
    addax.process.send_signal(signal.SIGKILL)
    addax.process.wait()
    assert before_kill.get("done", 0) < count - 50, f"the kill came mid-backlog: {before_kill}"
    addax.start()
    addax.wait_healthy()
    addax.wait_for(lambda: stages(addax) == {"done": count}, timeout=300, what=f"all {count} photos done")
    assert_processed_exactly_once(addax, count)
    assert addax.stop() == 0


def test_two_worker_processes_share_the_work_with_the_service(addax: AddaxProcess) -> None:
    count = 120
    addax.start()
    addax.wait_healthy()
    import_photos(addax, count)
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "addax", "worker", "--roles", "detect,classify,finish"],
            cwd=addax.home,
            env=addax.env,
            stdout=(addax.home / f"worker-{n}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for n in range(2)
    ]
    try:
        holders: set[str] = set()

        def all_done() -> bool:
            rows = addax.query("SELECT DISTINCT claimed_by FROM images WHERE claimed_by IS NOT NULL")
            holders.update(row["claimed_by"].split("/")[1] for row in rows)
            return stages(addax) == {"done": count}

        def running(n: int) -> bool:
            assert workers[n].poll() is None, (addax.home / f"worker-{n}.log").read_text()[-3000:]
            return '"worker is running"' in (addax.home / f"worker-{n}.log").read_text()

        # both ready before there is work: a worker still starting on a busy machine would find none left
        addax.wait_for(lambda: running(0) and running(1), timeout=120, what="both workers running")
        detector_model(addax.home / "models", boxes=BOXES, name="md")
        addax.wait_for(all_done, timeout=300, what=f"all {count} photos done")
        worker_names = {holder for holder in holders if holder.startswith("worker-")}
        assert len(worker_names) == 2, f"both workers took images: {holders}"
        assert_processed_exactly_once(addax, count)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        exits = [worker.wait(60) for worker in workers]
    assert exits == [0, 0]
    logs = [json.loads(line) for line in (addax.home / "worker-0.log").read_text().splitlines() if line.startswith("{")]
    assert any(entry.get("event") == "worker is running" for entry in logs)
    assert addax.stop() == 0
