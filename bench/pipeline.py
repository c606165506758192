"""Detection throughput: a bare onnxruntime loop against the whole Addax pipeline, on the same model and photos.

Run from the repository root (it uses the helpers under tests/):

    .venv/bin/python -m bench.pipeline [--photos 1000] [--model PATH.toml] [--detect-api 50] [--env KEY=VALUE]

The model is bench/yolo_graph.py's YOLOv5s-shaped network (random weights, ~8 GFLOPs at 640, megadetector-v5
output) unless ``--model`` names a real one's manifest. The photos are 1920x1080 Willfine JPEGs
(tests/domain/jpeg_factory.trail_photo), made first, untimed. Then, in one run:

1. decode + letterbox alone (addax.models.imaging, JPEG draft mode as the detector uses it), in a pool of
   threads against a pool of processes, which must send each 3x640x640 float32 tensor (4.9 MB) back;
2. (a) the bare loop (bench/bare.py): read, decode and letterbox in a thread pool (one thread per core, as
   addax's prepare pool), batches of 1, 2, 4 and 8 into onnxruntime through addax's Detector (the same session
   options and thread counts as the service), up to 16 photos in flight. Every size runs ``--repeats`` times
   in turn; the best by median runs once more with its photos prepared in a process pool, then on every photo
   (at most 1,000) before (b) and again after it: (a) is the two together. Latency: a photo submitted for
   decoding to the end of its batch. Box decoding and NMS are not in the loop (their cost is printed apart);
3. (b) the pipeline: `addax run` (tests/service.py), whose models.dir holds no model; `addax import` puts every
   photo in ``stored``, where it waits; then the model and its manifest are written into models.dir and the
   service picks them up (it looks every 5 s). The clock runs from the first detector claim to the last
   ``processed_at``. A watcher polls the leases (``claimed_by``) every 0.1 s: an image's detector claim time
   is its first lease's ``claimed_until`` less the 60 s lease (exact unless the lease was renewed before the
   watcher saw it); later stages' claims are when the watcher first saw them (to 0.1 s). Latency: detector
   claim to ``processed_at``. CPU: user + system of addax and of its children (PostgreSQL's postmaster, live
   backends and, through its cutime, exited ones; Redis), less the watcher's own backend. RSS: addax's at 10,
   50 and 100 % of the images done, and its peak (reset when the model goes in);
4. with ``--detect-api N``: N single-photo POST /api/v1/detect, one after another on one keep-alive
   connection with a device token, once the pipeline is idle; each one follows a run of the same photo's
   tensor through this process's own copy of the model at batch 1 ("model alone"), so both see the same
   machine, 0.1 s apart (onnxruntime's pool threads spin for a while after a run, in either process). The
   answer's ``inference_ms`` is the service's own model time for that photo's batch.

The machine is shared and small: every table says how many cores the rest of the machine kept busy meanwhile
("others' load"). CPU ms/image is steadier than images/s; the ratio is given both ways. Repeat and compare.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from addax.embedded.common import socket_directory
from addax.embedded.postgres import dsn_for
from addax.models.manifest import Manifest, load_manifest
from addax.models.registry import Detector
from bench import yolo_graph
from bench.bare import (
    CORES,
    Run,
    bare_loop,
    batch_sweep,
    cpu_s,
    machine_busy_s,
    make_pool,
    median_row,
    own_cpu_s,
    percentile,
    prepare_file,
    prepare_only,
    proc_kb,
    reset_peak,
    run_row,
    single_image,
    tree_cpu_s,
)
from bench.ingest import make_photo
from tests.conftest import world_readable_tempdir
from tests.service import AddaxProcess, environment, postmaster_pid

PROVIDERS = ["CPUExecutionProvider"]
LEASE_S = 60.0  # addax's StagePolicy.lease_s
WATCH_S = 0.1
STAGES = ("stored", "detected", "classified")  # the stages whose claims are followed
BARE_PHOTOS = 1000
SETTLE_S = 0.1  # between the model alone and a request: onnxruntime's threads spin a while after a run


# -- the pipeline ----------------------------------------------------------------------------------------


@dataclass
class Watch:
    """What the watcher saw: claim times per stage and image (epoch s), RSS samples, counts."""

    claims: dict[str, dict[int, float]] = field(default_factory=lambda: {stage: {} for stage in STAGES})
    rss_mb: dict[str, float] = field(default_factory=dict)
    done: int = 0
    failed: int = 0
    watcher_cpu_s: float = 0.0


_LEASES = """SELECT id, stage::text AS stage, extract(epoch FROM claimed_until) AS until FROM images
             WHERE claimed_by IS NOT NULL AND stage IN ('stored', 'detected', 'classified')"""
_COUNTS = "SELECT count(*) FILTER (WHERE stage = 'done'), count(*) FILTER (WHERE stage = 'failed') FROM images"


async def watch(dsn: str, addax_pid: int, total: int, install: Callable[[], None], stall_s: float = 300) -> Watch:
    """Install the model, then follow the leases until every image is done (or failed)."""
    seen = Watch()
    connection = await asyncpg.connect(dsn, server_settings={"default_transaction_read_only": "on"})
    backend = await connection.fetchval("SELECT pg_backend_pid()")
    backend_cpu = cpu_s(backend)
    marks = {round(total * share): f"RSS at {share:.0%} MB" for share in (0.1, 0.5, 1.0)}
    try:
        install()
        moved, last = time.monotonic(), -1
        while seen.done + seen.failed < total:
            now = time.time()
            for row in await connection.fetch(_LEASES):
                claims = seen.claims[row["stage"]]
                if row["id"] not in claims:
                    until = float(row["until"]) - LEASE_S
                    claims[row["id"]] = until if row["stage"] == "stored" and until <= now else now
            seen.done, seen.failed = await connection.fetchrow(_COUNTS)
            for mark, label in marks.items():
                if seen.done >= mark and label not in seen.rss_mb:
                    seen.rss_mb[label] = proc_kb(addax_pid, "VmRSS") / 1024
            if seen.done + seen.failed != last:
                moved, last = time.monotonic(), seen.done + seen.failed
            elif time.monotonic() - moved > stall_s:
                raise TimeoutError(f"stuck at {last} of {total} images done for {stall_s:.0f} s")
            await asyncio.sleep(WATCH_S)
        seen.watcher_cpu_s = cpu_s(backend) - backend_cpu
    finally:
        await connection.close()
    return seen


async def fetch_processed(dsn: str) -> dict[int, float]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT id, extract(epoch FROM processed_at) AS at FROM images WHERE processed_at IS NOT NULL"
        )
    finally:
        await connection.close()
    return {row["id"]: float(row["at"]) for row in rows}


def installer(manifest: Manifest | None, models_dir: Path) -> Callable[[], None]:
    """Write the model into ``models_dir`` (the bench model, or a copy of ``manifest``'s), the manifest last."""

    def install() -> None:
        if manifest is None:
            yolo_graph.write_model(models_dir)
            return
        for path in (manifest.file, manifest.path):  # the manifest last, so it never names a missing file
            partial = models_dir / f".{path.name}.partial"
            shutil.copyfile(path, partial)
            partial.rename(models_dir / path.name)

    return install


@dataclass(frozen=True, slots=True)
class Service:
    """How the service is run: its extra settings (``ADDAX_*``), the model to install, the detect API calls."""

    settings: dict[str, str]
    manifest: Manifest | None
    detect_api: int


def pipeline_run(photos: Path, count: int, service: Service, detector: Detector) -> tuple[dict[str, Any], ...]:
    """One fresh `addax run`: the backlog from ``stored`` to ``done``; then the detect API if asked for."""
    home = world_readable_tempdir("addax-bench-pipeline-")
    models_dir = home / "models"
    models_dir.mkdir()
    env = {**environment(), "ADDAX_MODELS_DIR": str(models_dir), "ADDAX_MODELS_PROVIDERS": ",".join(PROVIDERS)}
    addax = AddaxProcess(home=home, env=env | service.settings)
    try:
        addax.start()
        addax.wait_healthy()
        _cli(addax, "project", "add", "bench")
        started = time.monotonic()
        imported = _cli(addax, "import", str(photos), "--project", "bench", timeout=3600)
        stored = addax.value("SELECT count(*) FROM images WHERE stage = 'stored'")
        print(f"imported in {time.monotonic() - started:.0f} s: {imported.strip()}; {stored} waiting", flush=True)
        if stored != count:
            raise SystemExit(f"expected {count} images in stored, found {stored}")
        assert addax.process is not None
        pid, dsn = addax.process.pid, dsn_for(socket_directory(home / "data"), 5432)
        rss_before = proc_kb(pid, "VmRSS") / 1024
        reset_peak(pid)
        postmaster = postmaster_pid(home / "data")
        cpu, pg, mine, busy = tree_cpu_s(pid), tree_cpu_s(postmaster), own_cpu_s(), machine_busy_s()
        installed = time.time()
        seen = asyncio.run(watch(dsn, pid, count, installer(service.manifest, models_dir)))
        cpu_used = tree_cpu_s(pid) - cpu - seen.watcher_cpu_s
        pg_used = tree_cpu_s(postmaster) - pg - seen.watcher_cpu_s
        others = machine_busy_s() - busy - cpu_used - seen.watcher_cpu_s - (own_cpu_s() - mine)
        elapsed = time.time() - installed
        peak = proc_kb(pid, "VmHWM") / 1024
        processed = asyncio.run(fetch_processed(dsn))
        row = _pipeline_row(seen, processed, installed, count)
        row |= {"CPU ms/img": 1000 * cpu_used / count, "  of it PostgreSQL": 1000 * pg_used / count}
        row |= {"others' load, cores": others / elapsed}
        row |= {"RSS before model MB": rss_before, **seen.rss_mb, "RSS peak MB": peak}
        if not service.detect_api:
            return (row,)
        return row, detect_api_row(addax, photos, service.detect_api, detector)
    finally:
        if addax.process is not None:
            addax.stop()
        shutil.rmtree(home, ignore_errors=True)


def _cli(addax: AddaxProcess, *args: str, timeout: float = 120) -> str:
    result = addax.cli(*args, timeout=timeout)
    if result.returncode != 0:
        raise SystemExit(f"addax {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result.stdout


def _pipeline_row(seen: Watch, processed: dict[int, float], installed: float, count: int) -> dict[str, Any]:
    detect = seen.claims["stored"]
    first, last = min(detect.values()), max(processed.values())
    latencies = [processed[i] - detect[i] for i in processed if i in detect]

    def stage_p50(start: dict[int, float], end: dict[int, float]) -> float:
        return 1000 * percentile([end[i] - start[i] for i in start if i in end], 50)

    return {
        "": "(b) pipeline",
        "images": count,
        "images/s": len(processed) / (last - first),
        "p50 ms": 1000 * percentile(latencies, 50),
        "p95 ms": 1000 * percentile(latencies, 95),
        "  detector claim→detected p50": stage_p50(detect, seen.claims["detected"]),
        "  detected→classifier claim p50": stage_p50(seen.claims["detected"], seen.claims["classified"]),
        "  finisher claim→done p50": stage_p50(seen.claims["classified"], processed),
        "model pick-up s": first - installed,
        "failed": seen.failed,
        "claims seen": len(latencies),
    }


# -- the detect API --------------------------------------------------------------------------------------


def _multipart(name: str, data: bytes, boundary: str) -> bytes:
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
    return head.encode() + b"Content-Type: image/jpeg\r\n\r\n" + data + f"\r\n--{boundary}--\r\n".encode()


def detect_api_row(addax: AddaxProcess, photos: Path, requests: int, detector: Detector) -> dict[str, Any]:
    """``requests`` single-photo POST /api/v1/detect in a row (after 3 not counted), each after the same photo
    through this process's model alone."""
    token = _cli(addax, "token", "add", "bench-device", "--project", "bench").strip().splitlines()[-1]
    files = sorted(photos.iterdir())
    connection = http.client.HTTPConnection("127.0.0.1", addax.http_port, timeout=60)
    boundary = "addax-bench-" + hashlib.sha256(token.encode()).hexdigest()[:16]
    headers = {"X-API-Token": token, "Content-Type": f"multipart/form-data; boundary={boundary}"}
    round_trips, inference, alone = [], [], []
    for index in range(requests + 3):
        path = files[index % len(files)]
        tensor, _ = prepare_file(path, detector.manifest.input_size)
        time.sleep(SETTLE_S)
        began = time.perf_counter()
        detector.infer([tensor])
        model_ms = 1000 * (time.perf_counter() - began)
        body = _multipart(path.name, path.read_bytes(), boundary)
        time.sleep(SETTLE_S)
        began = time.perf_counter()
        connection.request("POST", "/api/v1/detect", body=body, headers=headers)
        response = connection.getresponse()
        answer = response.read()
        elapsed = time.perf_counter() - began
        if response.status != 200:
            raise SystemExit(f"POST /api/v1/detect: {response.status} {answer[:300]!r}")
        if index >= 3:
            round_trips.append(1000 * elapsed)
            inference.append(float(json.loads(answer)["inference_ms"]))
            alone.append(model_ms)
    connection.close()
    overhead = [trip - model for trip, model in zip(round_trips, inference, strict=True)]
    return {
        "": "POST /api/v1/detect",
        "requests": requests,
        "HTTP p50 ms": percentile(round_trips, 50),
        "HTTP p95 ms": percentile(round_trips, 95),
        "model alone p50 ms": percentile(alone, 50),
        "model alone p95 ms": percentile(alone, 95),
        "HTTP p95 / model alone p95": percentile(round_trips, 95) / percentile(alone, 95),
        "inference_ms p50": percentile(inference, 50),
        "inference_ms p95": percentile(inference, 95),
        "HTTP - inference_ms p50": percentile(overhead, 50),
        "HTTP - inference_ms p95": percentile(overhead, 95),
    }


# -- the table -------------------------------------------------------------------------------------------


def table(rows: Sequence[dict[str, Any]], title: str = "") -> str:
    """One line per measure, one column per row (the '' key is the column's name); blank where a row lacks it."""
    keys: list[str] = []
    for row in rows:  # a key only some rows have goes after the key before it in that row
        at = 0
        for key in filter(None, row):
            if key not in keys:
                keys.insert(at, key)
            at = keys.index(key) + 1
    width = max(map(len, keys)) + 2
    cells = max(12, *(len(str(row.get("", ""))) + 2 for row in rows))

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}" if abs(value) < 1000 else f"{value:.0f}"
        return "" if value is None else str(value)

    lines = [title] if title else []
    lines.append(" " * width + "".join(f"{row.get('', '')!s:>{cells}}" for row in rows))
    lines += [f"{key:<{width}}" + "".join(f"{cell(row.get(key)):>{cells}}" for row in rows) for key in keys]
    return "\n".join(lines)


# -- the run ---------------------------------------------------------------------------------------------


def make_photos(count: int, folder: Path) -> None:
    with ProcessPoolExecutor() as pool:  # untimed; ten cameras, as bench.ingest makes them
        list(pool.map(make_photo, range(count), [10] * count, [folder] * count, chunksize=32))


def open_model(args: argparse.Namespace, scratch: Path) -> tuple[Manifest | None, Detector, str]:
    """The real model named by --model, or the bench model written to ``scratch``; with a line describing it."""
    if args.model:
        manifest = load_manifest(Path(args.model))
        return manifest, Detector.open(manifest, PROVIDERS), f"{manifest.name} ({manifest.file.name})"
    bench_manifest = load_manifest(yolo_graph.write_model(scratch))
    described = f"{bench_manifest.name} (YOLOv5s-shaped, random weights, {yolo_graph.gflops():.1f} GFLOPs at 640)"
    return None, Detector.open(bench_manifest, PROVIDERS), described


def threads_or_processes(detector: Detector, paths: Sequence[Path], batch: int, repeats: int) -> list[dict[str, Any]]:
    """The bare loop at ``batch`` with photos prepared in threads, then in processes, ``repeats`` times in turn."""
    runs: dict[str, list[Run]] = {"threads": [], "processes": []}
    with make_pool("threads", CORES) as threads, make_pool("processes", CORES) as processes:
        for _ in range(repeats):
            runs["threads"].append(bare_loop(detector, paths, batch, threads))
            runs["processes"].append(bare_loop(detector, paths, batch, processes))
    return [median_row(f"batch {batch}, {kind}", found) for kind, found in runs.items()]


def bare_row(batch: int, before: Run, after: Run, peak_mb: float) -> dict[str, Any]:
    both = run_row(f"(a) bare, batch {batch}", before + after)
    return {
        "": both[""],
        "images": before.images,
        "images/s": both["images/s"],
        "  before (b)": before.rate,
        "  after (b)": after.rate,
        "p50 ms": both["p50 ms"],
        "p95 ms": both["p95 ms"],
        "model ms/img": both["model ms/img"],
        "CPU ms/img": both["CPU ms/img"],
        "others' load, cores": both["others' load, cores"],
        "RSS peak MB": peak_mb,
    }


def _settings(pairs: Sequence[str]) -> dict[str, str]:
    settings = dict(pair.split("=", 1) for pair in pairs)
    if bad := [key for key in settings if not key.startswith("ADDAX_")]:
        raise SystemExit(f"--env takes ADDAX_* settings, not {', '.join(bad)}")
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--photos", type=int, default=1000, help="photos through the pipeline (10000: RSS check)")
    parser.add_argument("--model", help="a real detector's manifest (.toml) instead of the bench model")
    parser.add_argument("--detect-api", type=int, default=0, metavar="N", help="N POST /api/v1/detect after (b)")
    parser.add_argument("--env", action="append", default=[], metavar="ADDAX_X=V", help="a setting for addax run")
    parser.add_argument("--sweep", type=int, default=96, help="photos per run of the batch-size sweep")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each batch size in the sweep")
    parser.add_argument("--prepare", type=int, default=160, help="photos for decode + letterbox alone")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args()
    service_settings = _settings(args.env)
    scratch = Path(tempfile.mkdtemp(prefix="addax-bench-photos-"))
    try:
        folder = scratch / "photos"
        folder.mkdir()
        started = time.monotonic()
        make_photos(args.photos, folder)
        paths = sorted(folder.iterdir())
        size_kb = sum(p.stat().st_size for p in paths) / len(paths) / 1024
        print(f"made {len(paths)} photos of {size_kb:.0f} KB in {time.monotonic() - started:.0f} s", flush=True)
        manifest, detector, described = open_model(args, scratch / "model")
        size = detector.manifest.input_size

        prepare_rows = [
            prepare_only(paths[: args.prepare], size, kind, workers)
            for kind, workers in (("threads", 1), ("threads", CORES), ("processes", CORES))
        ]
        print(table(prepare_rows, f"decode + letterbox alone, {args.prepare} photos"), flush=True)
        single = single_image(detector, paths)
        best, sweep_rows = batch_sweep(detector, paths[: args.sweep], args.batches, args.repeats)
        sweep_rows += threads_or_processes(detector, paths[: args.sweep], best, args.repeats)
        print(table(sweep_rows, f"bare loop, {args.sweep} photos a run, median of {args.repeats}"), flush=True)

        bare_paths = paths[:BARE_PHOTOS]
        reset_peak(os.getpid())
        with make_pool("threads", CORES) as pool:
            before = bare_loop(detector, bare_paths, best, pool)
        peak = proc_kb(os.getpid(), "VmHWM") / 1024
        print(f"bare loop, batch {best}, {len(bare_paths)} photos: {before.rate:.2f} images/s", flush=True)
        service = Service(service_settings, manifest, args.detect_api)
        pipeline, *api = pipeline_run(folder, len(paths), service, detector)
        print(f"pipeline: {pipeline['images/s']:.2f} images/s", flush=True)
        with make_pool("threads", CORES) as pool:
            after = bare_loop(detector, bare_paths, best, pool)

        bare = bare_row(best, before, after, peak)
        pipeline["ratio (b)/(a), images/s"] = pipeline["images/s"] / bare["images/s"]
        pipeline["ratio (a)/(b), CPU ms/img"] = bare["CPU ms/img"] / pipeline["CPU ms/img"]
        print(f"\nmodel: {described}, {detector.provider}, {CORES} cores; photos 1920x1080, {size_kb:.0f} KB")
        if service_settings:
            print("addax run with " + " ".join(f"{key}={value}" for key, value in service_settings.items()))
        print(f"one photo at a time, nothing else running (p50/p95 ms): decode+letterbox {_pair(single.prepare)}, "
              f"model {_pair(single.model)}, boxes {_pair(single.boxes)} ({single.boxes_found:.0f} boxes)")  # fmt: skip
        print(table(prepare_rows, f"\ndecode + letterbox alone, {args.prepare} photos"))
        print(table(sweep_rows, f"\nbare loop, {args.sweep} photos a run, median of {args.repeats}"))
        print(table([bare, pipeline], "\nbare loop (a) against the pipeline (b)"))
        if api:
            print(table(api, "\none photo at a time, the pipeline idle"))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pair(values: tuple[float, float]) -> str:
    return f"{values[0]:.1f}/{values[1]:.1f}"


if __name__ == "__main__":
    main()
