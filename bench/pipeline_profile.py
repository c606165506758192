"""Where the pipeline's time goes: the stages in this process, timed piece by piece (a diagnostic for
bench.pipeline, not a benchmark of its own).

    .venv/bin/python -m bench.pipeline_profile [--photos 300] [--variant no-render|small-render|no-spin ...]
                                               [--batch 8] [--batch-wait-ms 50] [--prepare-threads 0] [--cprofile]

An embedded PostgreSQL of its own, the photos imported as `addax import` does (addax.backfill), the bench model
in models.dir, then addax.pipeline.start_pipeline on uvloop as `addax run` starts it. Every step of interest is
wrapped to add up its wall and CPU time (time.thread_time, so the CPU of the thread that ran it): reading and
preparing photos, the model's batches (the calling thread only; onnxruntime's pool threads are the
rest of the process's CPU), box decoding, the finisher's derivatives, writing them. The event loop's own CPU
is its thread's; its lag is sampled every 10 ms. The detector's batcher says how full its batches were and how
busy the model was. ``--cprofile`` adds the event loop thread's top functions.

A variant changes addax in this process only, to see what a change would buy before making it: ``no-render``
(no derivatives), ``bilinear-render``, ``source-size-render``, ``small-render`` (cheaper derivatives, see
``instrument``), ``no-spin`` (onnxruntime's idle pool threads sleep instead of spinning). The models settings
are flags.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import io
import os
import pstats
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import onnxruntime as ort
import uvloop
from PIL import Image

import addax.actors.finisher as finisher_module
from addax import backfill, derivatives
from addax.config import Config, General, Models
from addax.derivatives import Derived
from addax.embedded.postgres import EmbeddedPostgres
from addax.models import registry
from addax.pipeline import start_pipeline
from addax.runtime import Supervisor
from addax.store import accounts, detections, events, work
from addax.store.database import open_database, ping
from addax.store.migrations import migrate
from addax.store.object_fs import FilesystemObjectStore
from bench import yolo_graph
from bench.bare import machine_busy_s, percentile, tree_cpu_s
from bench.pipeline import make_photos
from tests.conftest import world_readable_tempdir

TOTALS: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])  # name -> calls, wall s, cpu s


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            total = TOTALS[name]
            total[0] += 1
            total[1] += time.perf_counter() - wall
            total[2] += time.thread_time() - cpu

    return wrapper


def timed_async(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            total = TOTALS[name]
            total[0] += 1
            total[1] += time.perf_counter() - wall

    return wrapper


def _wrap(owner: Any, name: str, label: str, *, wrapper: Callable[..., Any] = timed) -> None:
    setattr(owner, name, wrapper(label, getattr(owner, name)))


def _no_render(data: bytes, **_: Any) -> Derived:
    return Derived(b"thumbnail", b"annotated")


def _quiet_sessions() -> None:
    """Every onnxruntime session made from now on lets its idle threads sleep instead of spinning."""
    options = ort.SessionOptions

    def quiet_options() -> Any:
        made = options()
        made.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return made

    setattr(ort, "SessionOptions", quiet_options)  # noqa: B010 - addax.models.session reads it at open


def _open_with(resample: Image.Resampling) -> Callable[[bytes, int, int], Image.Image]:
    """addax.derivatives._open with draft mode at the photo's proportions and the given downscale filter."""

    def open_photo(data: bytes, side: int, max_pixels: int) -> Image.Image:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise ValueError(f"{width}x{height} pixels is over the limit of {max_pixels}")
        scale = max(1.0, max(width, height) / side)
        image.draft("RGB", (max(1, int(width / scale)), max(1, int(height / scale))))
        picture = image.convert("RGB")
        if max(picture.size) > side:
            picture.thumbnail((side, side), resample)
        return picture

    return open_photo


RENDERS = {  # variant: (annotated side, downscale filter)
    "bilinear-render": (derivatives.ANNOTATED_SIDE, Image.Resampling.BILINEAR),
    "source-size-render": (1920, Image.Resampling.LANCZOS),  # no downscale of a 1920x1080 photo
    "small-render": (960, Image.Resampling.LANCZOS),  # a 1920x1080 photo decoded at 1/2 in draft mode
}


def instrument(variants: Sequence[str]) -> None:
    """Wrap the steps in timers; each variant changes addax in this process as it says:

    no-render: no derivatives (empty bytes); bilinear-render: the annotated copy scaled down bilinearly;
    source-size-render: annotated at up to 1920 pixels (a 1920x1080 photo is not scaled); small-render: at
    960 (decoded at 1/2 in draft mode); the render variants also draft at the photo's proportions, not a square;
    no-spin: onnxruntime's idle pool threads sleep instead of spinning.
    """
    _wrap(registry.Detector, "prepare", "prepare (decode + letterbox)")
    _wrap(registry.Detector, "infer", "model batch (calling thread)")
    _wrap(registry.Detector, "boxes", "boxes (decode + NMS)")
    if "no-render" in variants:
        setattr(finisher_module, "render", _no_render)  # noqa: B010
    for variant in set(variants) & set(RENDERS):
        side, resample = RENDERS[variant]
        setattr(derivatives, "ANNOTATED_SIDE", side)  # noqa: B010
        setattr(derivatives, "_open", _open_with(resample))  # noqa: B010
    if "no-spin" in variants:
        _quiet_sessions()
    _wrap(finisher_module, "render", "render derivatives")
    _wrap(FilesystemObjectStore, "read", "object read", wrapper=timed_async)
    _wrap(FilesystemObjectStore, "put_bytes", "object write", wrapper=timed_async)
    _wrap(work, "claim", "claim (await)", wrapper=timed_async)
    _wrap(detections, "replace_boxes", "replace_boxes (await)", wrapper=timed_async)
    _wrap(events, "join_event", "join_event (await)", wrapper=timed_async)


async def lag_monitor(samples: list[float]) -> None:
    while True:
        began = time.perf_counter()
        await asyncio.sleep(0.01)
        samples.append(time.perf_counter() - began - 0.01)


async def run(args: argparse.Namespace, home: Path) -> None:
    photos = home / "photos"
    photos.mkdir()
    make_photos(args.photos, photos)
    models = home / "models"
    yolo_graph.write_model(models)
    batch, threads = args.batch, args.prepare_threads
    config = Config(
        general=General(data_dir=str(home / "data")),
        models=Models(
            dir=str(models),
            providers=["CPUExecutionProvider"],
            batch_size=batch,
            prepare_threads=threads,
            batch_wait_ms=args.batch_wait_ms,
        ),
    )
    async with Supervisor(stop_timeout=30) as supervisor:
        postgres = EmbeddedPostgres(data_dir=home / "servers")
        await supervisor.start(postgres)
        connection = await asyncpg.connect(postgres.dsn)
        await migrate(connection)
        await connection.close()
        pool = await supervisor.use("database", open_database(postgres.dsn, pool_size=10), probe=ping)
        project_id = await accounts.add_project(pool, "bench", by="bench")
        await backfill.import_directory(pool, config, photos, project_id)
        stored = await pool.fetchval("SELECT count(*) FROM images WHERE stage = 'stored'")
        print(f"{stored} images stored", flush=True)
        instrument(args.variant)
        lags: list[float] = []
        monitor = asyncio.create_task(lag_monitor(lags))
        profiler = cProfile.Profile() if args.cprofile else None
        wall, loop_cpu, proc_cpu = time.perf_counter(), time.thread_time(), tree_cpu_s(os.getpid())
        pg_cpu, busy = tree_cpu_s(postgres_pid(home)), machine_busy_s()
        if profiler:
            profiler.enable()
        pipeline = await start_pipeline(
            supervisor, config, pool=pool, objects=FilesystemObjectStore(config.data_path / "objects"), worker="bench"
        )
        while await pool.fetchval("SELECT count(*) FROM images WHERE stage IN ('done', 'failed')") < stored:
            await asyncio.sleep(0.2)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - wall
        loop_used, proc_used = time.thread_time() - loop_cpu, tree_cpu_s(os.getpid()) - proc_cpu
        pg_used = tree_cpu_s(postgres_pid(home)) - pg_cpu
        others = (machine_busy_s() - busy - proc_used) / elapsed
        monitor.cancel()
        assert pipeline.detector is not None
        stats = pipeline.detector.stats()
        report(args, stored, elapsed, loop_used, proc_used - pg_used, pg_used, lags, stats)
        print(f"others' load meanwhile: {others:.2f} cores")
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())


def postgres_pid(home: Path) -> int:
    return int((home / "servers" / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])


def report(
    args: argparse.Namespace,
    n: int,
    elapsed: float,
    loop_cpu: float,
    process_cpu: float,
    pg_cpu: float,
    lags: list[float],
    stats: dict[str, Any],
) -> None:
    variant = " + ".join(args.variant) or "plain"
    threads = args.prepare_threads or "cores"
    print(f"\n{variant}; batch_size {args.batch}, batch_wait_ms {args.batch_wait_ms}, prepare_threads {threads}")
    print(f"{n} images in {elapsed:.1f} s: {n / elapsed:.2f} images/s")
    print(f"CPU ms/img: this process {1000 * process_cpu / n:.1f} (event loop thread {1000 * loop_cpu / n:.1f}), "
          f"PostgreSQL {1000 * pg_cpu / n:.1f}")  # fmt: skip
    print(f"event loop lag: p50 {1000 * percentile(lags, 50):.1f} ms, p99 {1000 * percentile(lags, 99):.1f} ms, "
          f"max {1000 * max(lags):.0f} ms")  # fmt: skip
    items, batches = stats["items"], max(1, stats["batches"])
    busy = stats["busy_s"]
    print(f"detector batches: {batches}, mean size {items / batches:.2f}, model busy {busy:.1f} s "
          f"= {100 * busy / elapsed:.0f} % of the run, {1000 * busy / max(1, items):.1f} ms/img")  # fmt: skip
    print(f"{'step':<32}{'calls':>7}{'wall ms/img':>13}{'CPU ms/img':>12}{'wall ms/call':>14}")
    for name, (calls, wall, cpu) in sorted(TOTALS.items(), key=lambda item: -item[1][2]):
        cpu_text = f"{1000 * cpu / n:>12.1f}" if cpu else f"{'':>12}"
        print(f"{name:<32}{calls:>7}{1000 * wall / n:>13.1f}{cpu_text}{1000 * wall / max(1, calls):>14.1f}")
    print(f"threads alive: {threading.active_count()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--variant", nargs="*", choices=["no-render", *RENDERS, "no-spin"], default=[])
    parser.add_argument("--batch", type=int, default=8, help="models.batch_size")
    parser.add_argument("--batch-wait-ms", type=int, default=50, help="models.batch_wait_ms")
    parser.add_argument("--prepare-threads", type=int, default=0, help="models.prepare_threads (0: one per core)")
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    home = world_readable_tempdir("addax-bench-profile-")
    try:
        uvloop.run(run(args, home))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
