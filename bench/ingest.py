"""Ingest throughput: photos/s from FTPS upload to `stored`, and the memory of `addax run`.

Run from the repository root (it uses the helpers under tests/):

    .venv/bin/python -m bench.ingest [--photos 1000 10000] [--clients 10] [--client ftplib|curl]

Each burst size gets a fresh `addax run`, started as tests/service.py starts it, with project "bench"
and upload account "cam" added by the CLI. The photos are made first, untimed: 1920x1080 Willfine
JPEGs (tests/domain/jpeg_factory.trail_photo), one camera per client. Each client is one FTPS
session: Python's FTP_TLS (the clock starts at the first STOR, after every client logged in), or one
curl process sending all its camera's photos (-T "{a,b,...}"; the clock starts when the processes
do, so it includes curl's login). The clock stops when the database counts N images 'stored'; then
the rows are checked against the photos' SHA-256s and every stored object is hashed again. RSS: the
Python process (peak reset before the burst); pg: PSS summed over the postmaster and its backends.
CPU ms/photo is steadier than photos/s on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from addax.embedded.common import socket_directory
from addax.embedded.postgres import dsn_for
from tests.actors.ftps import client, curl_command, store_files
from tests.conftest import world_readable_tempdir
from tests.domain.jpeg_factory import trail_photo
from tests.service import AddaxProcess, child_pids, environment, free_port_range, postmaster_pid

PASSWORD = "bench upload password"
COUNT_STORED = "SELECT count(*) FROM images WHERE stage = 'stored'"


def make_photo(index: int, cameras: int, folder: Path) -> tuple[str, str]:
    """Write photo ``index`` (of camera ``index % cameras``) into ``folder``; return (file name, sha256 hex)."""
    name, data = trail_photo(index, cameras)
    (folder / name).write_bytes(data)
    return name, hashlib.sha256(data).hexdigest()


def start_service(addax: AddaxProcess) -> None:
    """Start `addax run`, wait until healthy, and add the project and upload account while it runs."""
    addax.start()
    addax.wait_healthy()
    account = ("ftp-user", "add", "cam", "--project", "bench", "--password-stdin")
    for args, stdin in ((("project", "add", "bench"), ""), (account, PASSWORD + "\n")):
        result = addax.cli(*args, stdin=stdin)
        if result.returncode != 0:
            raise SystemExit(f"addax {' '.join(args)} failed: {result.stderr}")


def _proc_kb(pid: int, field: str, path: str = "status") -> int:
    try:
        lines = Path(f"/proc/{pid}/{path}").read_text().splitlines()
    except OSError:
        return 0  # a backend that just ended
    return next((int(line.split()[1]) for line in lines if line.startswith(field + ":")), 0)


def _cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime, all threads


@dataclass(frozen=True, slots=True)
class Usage:
    rss_mb: float
    peak_mb: float
    pg_mb: float
    cpu_s: float
    pg_cpu_s: float


def usage(addax: AddaxProcess, *, reset_peak: bool = False) -> Usage:
    """Memory and CPU time so far of `addax run` and of its PostgreSQL (postmaster and live backends)."""
    assert addax.process is not None
    pid, postmaster = addax.process.pid, postmaster_pid(addax.home / "data")
    pg = [postmaster, *child_pids(postmaster)]
    if reset_peak:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM starts again from the current RSS
    pg_kb = sum(_proc_kb(p, "Pss", "smaps_rollup") for p in pg)
    rss_kb, peak_kb = _proc_kb(pid, "VmRSS"), _proc_kb(pid, "VmHWM")
    return Usage(rss_kb / 1024, peak_kb / 1024, pg_kb / 1024, _cpu_s(pid), sum(map(_cpu_s, pg)))


def upload_ftplib(port: int, files: list[Path], start: threading.Barrier) -> float:
    """One camera's FTPS session: log in, wait for the others, STOR every photo; the time it finished."""
    ftp = client(port, "cam", PASSWORD)
    try:
        start.wait(timeout=60)
        store_files(ftp, files)
        return time.monotonic()
    finally:
        ftp.quit()


def upload_curl(port: int, files: list[Path], start: threading.Barrier) -> float:
    """One camera as libcurl-based firmware: one curl, one FTPS session, every photo; the time it finished."""
    command = curl_command(port, "cam", PASSWORD, files)
    start.wait(timeout=60)
    subprocess.run(command, check=True, capture_output=True, timeout=3600)
    return time.monotonic()


UPLOADERS = {"ftplib": upload_ftplib, "curl": upload_curl}


def _object_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def watch(
    dsn: str, objects: Path, expected: set[str], uploads: list[Future[float]], stall_s: float = 120
) -> tuple[float, str]:
    """When all ``expected`` photos are 'stored', and the check of the rows and objects; fails if an upload
    does or everything stalls."""
    connection = await asyncpg.connect(dsn, server_settings={"default_transaction_read_only": "on"})
    try:
        seen, moved = -1, time.monotonic()
        while (stored := await connection.fetchval(COUNT_STORED)) < len(expected):
            for failed in [u for u in uploads if u.done() and u.exception()]:
                raise RuntimeError("an upload failed") from failed.exception()
            seen, moved = (stored, time.monotonic()) if stored != seen else (seen, moved)
            if time.monotonic() - moved > stall_s:
                raise TimeoutError(f"stuck at {stored} of {len(expected)} images stored for {stall_s:.0f} s")
            await asyncio.sleep(0.1)
        done = time.monotonic()
        rows = await connection.fetch("SELECT encode(sha256, 'hex') AS sha, stage, original_key FROM images")
    finally:
        await connection.close()
    found = [row["sha"] for row in rows]
    problems = {
        "missing": len(expected - set(found)),
        "unexpected": len(set(found) - expected),
        "duplicates": len(found) - len(set(found)),
        "not stored": sum(r["stage"] != "stored" for r in rows),
        "objects not byte-identical": sum(_object_sha(objects / r["original_key"]) != r["sha"] for r in rows),
    }
    counts = ", ".join(f"{name} {number}" for name, number in problems.items())
    return done, f"{'FAIL' if any(problems.values()) else 'OK'}: {len(found)} rows for {len(expected)} photos; {counts}"


def burst(photos: list[tuple[str, str]], folder: Path, clients: int, uploader: str) -> dict[str, object]:
    """One fresh service, one burst of ``photos`` from ``clients`` sessions: its row of the table."""
    home = world_readable_tempdir("addax-bench-")
    env = {**environment(), "ADDAX_FTP_HOST": "127.0.0.1", "ADDAX_FTP_PASSIVE_PORTS": free_port_range(50)}
    addax = AddaxProcess(home=home, env=env)
    try:
        start_service(addax)
        dsn, port = dsn_for(socket_directory(home / "data"), 5432), int(addax.env["ADDAX_FTP_PORT"])
        before, names = usage(addax, reset_peak=True), [name for name, _ in photos]
        start = threading.Barrier(clients + 1)
        upload = UPLOADERS[uploader]
        with ThreadPoolExecutor(clients) as pool:
            files = [folder / name for name in names]
            uploads = [pool.submit(upload, port, files[k::clients], start) for k in range(clients)]
            start.wait(timeout=60)
            began = time.monotonic()
            done, check = asyncio.run(watch(dsn, home / "data" / "objects", {sha for _, sha in photos}, uploads))
            uploaded = max(u.result() for u in uploads) - began
        after, n, stored = usage(addax), len(photos), done - began
        row: dict[str, object] = {"photos": n, "client": uploader, "clients": clients}
        row |= {"upload s": uploaded, "upload→stored s": stored}
        row |= {"photos/s": n / stored, "RSS before MB": before.rss_mb, "RSS after MB": after.rss_mb}
        row |= {"RSS peak MB": after.peak_mb, "pg before MB": before.pg_mb, "pg after MB": after.pg_mb}
        row |= {"addax CPU ms/photo": 1000 * (after.cpu_s - before.cpu_s) / n}
        return row | {"pg CPU ms/photo": 1000 * (after.pg_cpu_s - before.pg_cpu_s) / n, "check": check}
    finally:
        if addax.process is not None:
            addax.stop()
        shutil.rmtree(home, ignore_errors=True)


def table(rows: list[dict[str, object]]) -> str:
    """One line per measure, one column per burst, then the row check of each burst."""
    keys, width = [key for key in rows[0] if key != "check"], max(map(len, rows[0]))
    cells = [[f"{row[key]:.1f}" if isinstance(row[key], float) else str(row[key]) for row in rows] for key in keys]
    lines = [f"{key:<{width}}" + "".join(f"{cell:>10}" for cell in line) for key, line in zip(keys, cells, strict=True)]
    return "\n".join(lines + [f"rows after {row['photos']} photos: {row['check']}" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--photos", type=int, nargs="+", default=[1000], help="burst sizes, one service run each")
    parser.add_argument("--clients", type=int, default=10, help="concurrent FTPS sessions (one camera each)")
    parser.add_argument("--client", choices=sorted(UPLOADERS), default="ftplib", help="what the cameras run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="addax-bench-photos-"))
    try:
        started = time.monotonic()
        most, cameras = max(args.photos), args.clients
        with ProcessPoolExecutor() as pool:  # untimed; a pool of processes, one per core
            photos = list(pool.map(make_photo, range(most), [cameras] * most, [folder] * most, chunksize=32))
        size_kb = sum(f.stat().st_size for f in folder.iterdir()) / len(photos) / 1024
        print(f"made {len(photos)} photos of {size_kb:.0f} KB in {time.monotonic() - started:.0f} s", flush=True)
        rows = []
        for count in args.photos:
            rows.append(burst(photos[:count], folder, args.clients, args.client))
            print(f"{count} photos: {rows[-1]['photos/s']:.1f} photos/s", flush=True)
        print(table(rows))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
