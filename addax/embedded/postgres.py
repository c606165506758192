"""An embedded PostgreSQL + PostGIS cluster under ``data_dir/pg``, supervised as an actor.

The cluster listens on a Unix socket only (no TCP), trusts local connections, and runs as an
unprivileged system user when we are root, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import shutil
import signal
import time
from pathlib import Path
from urllib.parse import quote

import asyncpg

from addax.embedded.common import (
    EmbeddedServerError,
    EmbeddedServerExited,
    LogRotation,
    Owner,
    check_reachable,
    log_tail,
    own_directory,
    service_owner,
    socket_directory,
    wait_rotating,
)
from addax.runtime import Actor
from addax.runtime.process import pid_alive, spawn, terminate

log = logging.getLogger("addax.embedded.postgres")

DATABASE = "addax"
ROLE = "addax"
PACKAGES = "postgresql-15 postgresql-15-postgis-3"


def find_binaries(bin_dir: str = "") -> Path:
    """The directory holding ``postgres`` and ``initdb``: ``bin_dir``, Debian's layout, or PATH."""
    candidates = [Path(bin_dir)] if bin_dir else []
    if not bin_dir:
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
        candidates += [Path(p) for p in reversed(versions)]
        on_path = shutil.which("postgres")
        if on_path:
            candidates.append(Path(on_path).resolve().parent)
    for candidate in candidates:
        if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
            return candidate
    where = bin_dir or "/usr/lib/postgresql/*/bin and PATH"
    raise EmbeddedServerError(
        f"PostgreSQL server binaries not found (looked in {where}): install the Debian packages "
        f"{PACKAGES} (`sudo apt-get install {PACKAGES}`), or set database.url to an existing server"
    )


def dsn_for(socket_dir: Path, port: int) -> str:
    return f"postgresql://{ROLE}@/{DATABASE}?host={quote(str(socket_dir))}&port={port}"


class EmbeddedPostgres(Actor[None]):
    def __init__(
        self,
        *,
        data_dir: Path,
        bin_dir: str = "",
        user: str = "addax",
        port: int = 5432,
        log_rotation: LogRotation | None = None,
    ) -> None:
        super().__init__(name="postgres")
        self.cluster_dir = data_dir / "pg"
        self.socket_dir = socket_directory(data_dir)
        self.log_file = data_dir / "logs" / "postgres.log"
        self.log_rotation = log_rotation or LogRotation()
        self.port = port
        self._bin_dir = bin_dir
        self._user = user
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = False

    @property
    def dsn(self) -> str:
        return dsn_for(self.socket_dir, self.port)

    async def on_start(self) -> None:
        self._stopping = False
        binaries = find_binaries(self._bin_dir)
        owner = await service_owner(self._user)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        for directory in (self.cluster_dir, self.socket_dir):
            own_directory(directory, owner)
        await check_reachable(self.cluster_dir, owner)
        if not (self.cluster_dir / "PG_VERSION").exists():
            await self._initdb(binaries, owner)
        await self._clear_stale_lock()
        # Append mode is what lets rotation truncate the file under the running server (see rotate_if_larger).
        with self.log_file.open("ab") as output:
            if owner is not None:
                os.chown(self.log_file, owner.uid, owner.gid)
            self._process = await spawn(
                [
                    str(binaries / "postgres"),
                    "-D",
                    str(self.cluster_dir),
                    "-k",
                    str(self.socket_dir),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    "unix_socket_permissions=0770",
                    "-c",
                    "logging_collector=off",
                    "-c",
                    "max_connections=200",
                ],
                user=owner.uid if owner else None,
                group=owner.gid if owner else None,
                output=output,
            )
        await self._wait_ready()
        await self._ensure_database()
        log.info("embedded PostgreSQL ready", extra={"actor": self.name, "socket": str(self.socket_dir)})

    async def run(self) -> None:
        assert self._process is not None
        code = await wait_rotating(self._process, self.log_file, self.log_rotation)
        if not self._stopping:
            raise EmbeddedServerExited(f"postgres exited with code {code}: {log_tail(self.log_file, 5)}")

    async def on_stop(self) -> None:
        self._stopping = True
        if self._process is not None:
            # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
            await terminate(self._process, sig=signal.SIGINT, timeout=30)
            self._process = None

    async def _initdb(self, binaries: Path, owner: Owner | None) -> None:
        log.info("creating PostgreSQL cluster", extra={"actor": self.name, "dir": str(self.cluster_dir)})
        process = await spawn(
            [
                str(binaries / "initdb"),
                "-D",
                str(self.cluster_dir),
                "-U",
                ROLE,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            user=owner.uid if owner else None,
            group=owner.gid if owner else None,
            output=asyncio.subprocess.PIPE,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise EmbeddedServerError(f"initdb failed: {output.decode(errors='replace').strip()[-800:]}")

    async def _clear_stale_lock(self) -> None:
        """Deal with a postmaster.pid left by a crash: remove it, or stop the orphan that holds it."""
        lock = self.cluster_dir / "postmaster.pid"
        try:
            pid = int(lock.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return
        if pid_alive(pid) and _is_postmaster_of(pid, self.cluster_dir):
            log.warning("stopping an orphaned postgres from an earlier run", extra={"actor": self.name, "pid": pid})
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 30
            while pid_alive(pid) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.warning("removing stale postmaster.pid", extra={"actor": self.name, "pid": pid})
        lock.unlink(missing_ok=True)

    async def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self._process is not None
            if self._process.returncode is not None:
                raise EmbeddedServerError(f"postgres did not start:\n{log_tail(self.log_file)}")
            try:
                connection = await asyncpg.connect(
                    host=str(self.socket_dir), port=self.port, user=ROLE, database="postgres", timeout=2
                )
                await connection.close()
                return
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(
                        f"postgres did not accept connections within {timeout:g}s:\n{log_tail(self.log_file)}"
                    ) from None
                await asyncio.sleep(0.1)

    async def _ensure_database(self) -> None:
        connection = await asyncpg.connect(host=str(self.socket_dir), port=self.port, user=ROLE, database="postgres")
        try:
            if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE):
                await connection.execute(f'CREATE DATABASE "{DATABASE}"')  # a constant: identifiers can't be bound
        finally:
            await connection.close()


def _is_postmaster_of(pid: int, cluster_dir: Path) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(part.endswith(b"postgres") for part in cmdline[:1]) and str(cluster_dir).encode() in cmdline
