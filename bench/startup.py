"""Start-up time and idle memory of `addax run`, first start (initdb) and second start (data reused).

Run from the repository root: `.venv/bin/python -m bench.startup`. Prints a table.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.conftest import world_readable_tempdir
from tests.service import AddaxProcess, environment

IDLE_S = 10


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found + [grandchild for child in found for grandchild in children(child)]


def measure(addax: AddaxProcess, label: str) -> tuple[str, float, float, float, float]:
    started = time.monotonic()
    addax.start()
    addax.wait_healthy(timeout=120)
    ready = time.monotonic() - started
    time.sleep(IDLE_S)  # idle: let start-up garbage settle before reading memory
    assert addax.process is not None
    own = rss_mb(addax.process.pid)
    servers = sum(rss_mb(pid) for pid in children(addax.process.pid) if Path(f"/proc/{pid}").exists())
    stopping = time.monotonic()
    assert addax.stop() == 0
    return label, ready, own, servers, time.monotonic() - stopping


def main() -> None:
    home = world_readable_tempdir("addax-bench-startup-")
    addax = AddaxProcess(home=home, env=environment())
    try:
        rows = [measure(addax, "first start (initdb)"), measure(addax, "second start")]
    finally:
        addax.kill()
        subprocess.run(["rm", "-rf", str(home)], check=False)
    print(f"{'run':<22} {'to healthy s':>13} {'addax RSS MB':>13} {'pg+redis RSS MB':>16} {'SIGTERM→exit s':>15}")
    for label, ready, own, servers, stop in rows:
        print(f"{label:<22} {ready:>13.2f} {own:>13.1f} {servers:>16.1f} {stop:>15.2f}")


if __name__ == "__main__":
    main()
