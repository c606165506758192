"""The bare onnxruntime loop of bench.pipeline, and the /proc readings both halves of it measure with.

Decoding and letterboxing are addax's own (addax.models.imaging, JPEG draft mode), the model is addax's
Detector (the same session options and thread counts as the service); only the plumbing between them is
the simplest that keeps the model busy: a pool prepares up to IN_FLIGHT photos ahead, this thread runs them
through the model ``batch`` at a time.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from addax.models.imaging import Letterbox, decode_rgb, letterbox
from addax.models.registry import Detector
from tests.service import child_pids

IN_FLIGHT = 16  # addax's StagePolicy.in_flight: photos being read and decoded ahead of the model
CORES = os.cpu_count() or 2
TICK = os.sysconf("SC_CLK_TCK")


# -- /proc -----------------------------------------------------------------------------------------------


def proc_kb(pid: int, name: str) -> int:
    """A ``kB`` line of /proc/PID/status (VmRSS, VmHWM); 0 when the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.startswith(name + ":")), 0)


def cpu_s(pid: int, *, reaped: bool = False) -> float:
    """User + system seconds of ``pid`` (all threads), and of its exited children with ``reaped``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if reaped else 0)
    return ticks / TICK


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and every live descendant, with what their exited children used."""
    return cpu_s(pid, reaped=True) + sum(tree_cpu_s(child) for child in child_pids(pid))


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (every process, every core) since boot."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK


def own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from the current RSS


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


# -- preparing photos ------------------------------------------------------------------------------------


def prepare_file(path: Path, size: int) -> tuple[np.ndarray, Letterbox]:
    """What addax's Detector.prepare does, from a file: decode in draft mode, letterbox to ``size``."""
    return letterbox(decode_rgb(path.read_bytes(), at_least=size), size)


def make_pool(kind: str, workers: int) -> Executor:
    if kind == "threads":
        return ThreadPoolExecutor(workers, thread_name_prefix="prepare")
    pool = ProcessPoolExecutor(workers)
    list(pool.map(int, range(workers * 4)))  # start the workers before the clock does
    return pool


def pool_cpu_s(pool: Executor) -> float:
    """CPU of a process pool's workers (a thread pool's is this process's own)."""
    if isinstance(pool, ProcessPoolExecutor):
        return sum(cpu_s(pid) for pid in pool._processes)  # the workers' pids
    return 0.0


def prepare_only(paths: Sequence[Path], size: int, kind: str, workers: int) -> dict[str, Any]:
    """Decode + letterbox alone: images/s and CPU ms/image (this process and the workers)."""
    with make_pool(kind, workers) as pool:
        cpu, busy, began = own_cpu_s() + pool_cpu_s(pool), machine_busy_s(), time.perf_counter()
        for _ in pool.map(prepare_file, paths, [size] * len(paths), chunksize=1):
            pass
        elapsed = time.perf_counter() - began
        used = own_cpu_s() + pool_cpu_s(pool) - cpu
        others = (machine_busy_s() - busy - used) / elapsed
    return {"": f"{kind} x{workers}", "images/s": len(paths) / elapsed, "CPU ms/img": 1000 * used / len(paths)} | {
        "others' load, cores": others
    }


# -- the loop --------------------------------------------------------------------------------------------


@dataclass
class Run:
    images: int
    elapsed_s: float
    cpu_s: float
    others_s: float  # CPU seconds the rest of the machine used meanwhile
    latencies_s: list[float]
    model_s: list[float] = field(default_factory=list)  # per batch

    @property
    def rate(self) -> float:
        return self.images / self.elapsed_s

    def __add__(self, other: Run) -> Run:
        return Run(
            self.images + other.images,
            self.elapsed_s + other.elapsed_s,
            self.cpu_s + other.cpu_s,
            self.others_s + other.others_s,
            self.latencies_s + other.latencies_s,
            self.model_s + other.model_s,
        )


def bare_loop(detector: Detector, paths: Sequence[Path], batch: int, pool: Executor) -> Run:
    """Prepare in ``pool`` up to IN_FLIGHT ahead; infer ``batch`` photos at a time in this thread.

    An image's latency runs from its submission for decoding to the end of its batch.
    """
    size = detector.manifest.input_size
    window = max(IN_FLIGHT, 2 * batch)
    waiting: deque[tuple[float, Future[tuple[np.ndarray, Letterbox]]]] = deque()
    queue = iter(paths)

    def top_up() -> None:
        while len(waiting) < window and (path := next(queue, None)) is not None:
            waiting.append((time.perf_counter(), pool.submit(prepare_file, path, size)))

    latencies: list[float] = []
    model_s: list[float] = []
    cpu, busy, began = own_cpu_s() + pool_cpu_s(pool), machine_busy_s(), time.perf_counter()
    top_up()
    while waiting:
        taken = [waiting.popleft() for _ in range(min(batch, len(waiting)))]
        tensors = [future.result()[0] for _, future in taken]
        top_up()  # the next photos decode while this batch runs
        started = time.perf_counter()
        detector.infer(tensors)
        finished = time.perf_counter()
        model_s.append(finished - started)
        latencies += [finished - submitted for submitted, _ in taken]
    elapsed = time.perf_counter() - began
    used = own_cpu_s() + pool_cpu_s(pool) - cpu
    return Run(len(paths), elapsed, used, machine_busy_s() - busy - used, latencies, model_s)


def run_row(label: str, run: Run) -> dict[str, Any]:
    return {
        "": label,
        "images/s": run.rate,
        "CPU ms/img": 1000 * run.cpu_s / run.images,
        "p50 ms": 1000 * percentile(run.latencies_s, 50),
        "p95 ms": 1000 * percentile(run.latencies_s, 95),
        "model ms/img": 1000 * sum(run.model_s) / run.images,
        "others' load, cores": run.others_s / run.elapsed_s,
    }


def batch_sweep(
    detector: Detector, paths: Sequence[Path], batches: Sequence[int], repeats: int
) -> tuple[int, list[dict[str, Any]]]:
    """Each batch size ``repeats`` times, in turn (so a busy spell of the machine hits them all); the best size
    by median images/s, and a row per size with the medians."""
    runs: dict[int, list[Run]] = {batch: [] for batch in batches}
    with make_pool("threads", CORES) as pool:
        bare_loop(detector, paths[: 2 * max(batches)], max(batches), pool)  # warm up
        for _ in range(repeats):
            for batch in batches:
                runs[batch].append(bare_loop(detector, paths, batch, pool))
                print(f"bare loop, batch {batch}: {runs[batch][-1].rate:.2f} images/s", flush=True)
    rows = [median_row(f"batch {batch}", runs[batch]) for batch in batches]
    best = max(batches, key=lambda batch: statistics.median(run.rate for run in runs[batch]))
    return best, rows


def median_row(label: str, runs: Sequence[Run]) -> dict[str, Any]:
    rows = [run_row(label, run) for run in runs]
    return {"": label} | {key: statistics.median(row[key] for row in rows) for key in rows[0] if key}


@dataclass(frozen=True, slots=True)
class Single:
    """One photo at a time with nothing else running: each step's p50/p95 in ms."""

    prepare: tuple[float, float]
    model: tuple[float, float]
    boxes: tuple[float, float]
    boxes_found: float


def single_image(detector: Detector, paths: Sequence[Path], repeats: int = 30) -> Single:
    timings: dict[str, list[float]] = {"prepare": [], "model": [], "boxes": []}
    found = []
    detector.infer([prepare_file(paths[0], detector.manifest.input_size)[0]])  # warm up
    for path in [paths[i % len(paths)] for i in range(repeats)]:
        data = path.read_bytes()
        t0 = time.perf_counter()
        prepared = detector.prepare(data)
        t1 = time.perf_counter()
        output = detector.infer([prepared.tensor])[0]
        t2 = time.perf_counter()
        found.append(len(detector.boxes(output, prepared.geometry)))
        t3 = time.perf_counter()
        for key, seconds in (("prepare", t1 - t0), ("model", t2 - t1), ("boxes", t3 - t2)):
            timings[key].append(1000 * seconds)
    p = {key: (percentile(v, 50), percentile(v, 95)) for key, v in timings.items()}
    return Single(p["prepare"], p["model"], p["boxes"], statistics.mean(found))
