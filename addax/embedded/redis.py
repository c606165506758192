"""An embedded redis-server under ``data_dir/redis`` (append-only file on), supervised as an actor."""

from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import time
from pathlib import Path

import redis.asyncio as aioredis

from addax.embedded.common import (
    EmbeddedServerError,
    EmbeddedServerExited,
    LogRotation,
    log_tail,
    socket_directory,
    wait_rotating,
)
from addax.runtime import Actor
from addax.runtime.process import spawn, terminate

log = logging.getLogger("addax.embedded.redis")


def socket_path(data_dir: Path) -> Path:
    """Where the embedded server of a data dir listens (for ``addax worker`` on the same machine too)."""
    return socket_directory(data_dir) / "redis.sock"


class EmbeddedRedis(Actor[None]):
    def __init__(
        self, *, data_dir: Path, server_bin: str = "redis-server", log_rotation: LogRotation | None = None
    ) -> None:
        super().__init__(name="redis")
        self.redis_dir = data_dir / "redis"
        self.socket_path = socket_path(data_dir)
        self.log_file = data_dir / "logs" / "redis.log"
        self.log_rotation = log_rotation or LogRotation()
        self._server_bin = server_bin
        self._process: asyncio.subprocess.Process | None = None
        self._stopping = False

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    async def on_start(self) -> None:
        self._stopping = False
        binary = shutil.which(self._server_bin)
        if binary is None:
            raise EmbeddedServerError(
                f"{self._server_bin} not found: install the Debian package redis-server "
                "(`sudo apt-get install redis-server`), or set redis.url to an existing server"
            )
        self.redis_dir.mkdir(parents=True, exist_ok=True)
        self.redis_dir.chmod(0o700)
        self.socket_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self.socket_path.unlink(missing_ok=True)  # a crash leaves the socket file behind
        self._process = await spawn(
            [
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket_path),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.redis_dir),
                "--appendonly",
                "yes",
                "--daemonize",
                "no",
                "--logfile",
                str(self.log_file),
                "--save",
                "900 1",
            ],
        )
        await self._wait_ready()
        log.info("embedded redis ready", extra={"actor": self.name, "socket": str(self.socket_path)})

    async def run(self) -> None:
        assert self._process is not None
        code = await wait_rotating(self._process, self.log_file, self.log_rotation)
        if not self._stopping:
            raise EmbeddedServerExited(f"redis-server exited with code {code}: {log_tail(self.log_file, 5)}")

    async def on_stop(self) -> None:
        self._stopping = True
        if self._process is not None:
            await terminate(self._process, sig=signal.SIGTERM, timeout=30)
            self._process = None

    async def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        client = aioredis.Redis(unix_socket_path=str(self.socket_path))
        try:
            while True:
                assert self._process is not None
                if self._process.returncode is not None:
                    raise EmbeddedServerError(f"redis-server did not start:\n{log_tail(self.log_file)}")
                try:
                    if await client.ping():
                        return
                except (OSError, aioredis.RedisError):
                    if time.monotonic() > deadline:
                        raise EmbeddedServerError(
                            f"redis-server did not answer within {timeout:g}s:\n{log_tail(self.log_file)}"
                        ) from None
                    await asyncio.sleep(0.05)
        finally:
            await client.aclose()
