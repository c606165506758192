"""Running `addax` as a real subprocess, as an operator would, for the service tests."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port
from tests.waiting import wait_until


@dataclass
class AddaxProcess:
    home: Path
    env: dict[str, str]
    http_port: int = field(default_factory=free_port)
    ui_port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None

    def __post_init__(self) -> None:
        self.env = {
            **self.env,
            "ADDAX_GENERAL_DATA_DIR": str(self.home / "data"),
            "ADDAX_HTTP_HOST": "127.0.0.1",
            "ADDAX_HTTP_PORT": str(self.http_port),
            "ADDAX_UI_HOST": "127.0.0.1",
            "ADDAX_UI_PORT": str(self.ui_port),
            "ADDAX_FTP_PORT": str(free_port()),
        }

    def cli(
        self, *args: str, stdin: str = "", timeout: float = 120, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``addax ARGS`` with the service's settings (and ``env`` on top)."""
        return subprocess.run(
            [sys.executable, "-m", "addax", *args],
            cwd=self.home,
            env={**self.env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self) -> None:
        self.log_path = self.home / f"addax-{time.monotonic_ns()}.log"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "addax", "run"],
            cwd=self.home,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def get(self, path: str, *, port: int | None = None) -> tuple[int, str]:
        url = f"http://127.0.0.1:{port or self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post_json(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_healthy(self, timeout: float = 90) -> dict:
        def healthy() -> dict | None:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"addax exited with {self.process.returncode}:\n{self.log()[-3000:]}")
            try:
                status, body = self.get("/api/health")
            except OSError:
                return None
            return json.loads(body) if status == 200 else None

        return wait_until(healthy, timeout=timeout, what="/api/health", on_timeout=lambda: self.log()[-3000:])

    def wait_for(self, condition, timeout: float = 60, what: str = "condition") -> object:
        return wait_until(condition, timeout=timeout, what=what, on_timeout=lambda: self.log()[-3000:])

    def stop(self, timeout: float = 60) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def query(self, sql: str) -> list[dict]:
        """Rows of ``sql`` from the service's own database (through its socket; the service may be running)."""
        import asyncio

        import asyncpg

        from addax.embedded.common import socket_directory
        from addax.embedded.postgres import dsn_for

        async def fetch() -> list[dict]:
            connection = await asyncpg.connect(dsn_for(socket_directory(self.home / "data"), 5432))
            try:
                return [dict(row) for row in await connection.fetch(sql)]
            finally:
                await connection.close()

        return asyncio.run(fetch())

    def value(self, sql: str) -> object:
        rows = self.query(sql)
        return next(iter(rows[0].values())) if rows else None

    def first_admin_password(self) -> str | None:
        for event in self.events():
            if "password" in event and "first server admin" in event.get("event", ""):
                return str(event["password"])
        return None


async def cli_on(dsn: str, *args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``addax ARGS`` against the database at ``dsn`` (database.url), from an async test; no service needed."""
    env = {**environment(), "ADDAX_DATABASE_URL": dsn}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "addax",
        *args,
        cwd=cwd or tempfile.gettempdir(),  # away from the checkout's config.toml
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=120)
    assert process.returncode is not None
    return subprocess.CompletedProcess(list(args), process.returncode, stdout.decode(), stderr.decode())


def free_port_range(count: int) -> str:
    """A range of ``count`` ports that all bind now, e.g. for ftp.passive_ports."""
    import random
    import socket

    while True:
        base = random.randint(40000, 60000 - count)
        try:
            for port in range(base, base + count):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port))
        except OSError:
            continue
        return f"{base}-{base + count - 1}"


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().split("\n", 1)[0])


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("ADDAX_")}
