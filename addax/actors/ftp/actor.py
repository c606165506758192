"""The FTPS server as a supervised actor: binds its port on start, sweeps stale temporary files."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Callable
from pathlib import Path

from addax.actors.ftp.server import TEMPORARY_NAME, AccountLookup, CameraFtpServer, SessionLimits
from addax.runtime import Actor
from addax.runtime.servers import PortInUse, bind
from addax.store.logins import LoginGuard
from addax.store.receiving import Receiver

log = logging.getLogger("addax.ftp")

STALE_TEMPORARY_S = 24 * 3600  # an upload under a temporary name never renamed within a day is abandoned


class FtpActor(Actor[None]):
    def __init__(
        self,
        *,
        host: str,
        port: int,
        passive_ports: range | None,
        tls: Callable[[], ssl.SSLContext],
        data_dir: Path,
        receiver: Receiver,
        accounts: AccountLookup,
        logins: LoginGuard,
        limits: SessionLimits,
        passive_address: str = "",
        sweep_every_s: float = 3600.0,
        name: str = "ftp",
    ) -> None:
        super().__init__(name=name)
        self._host, self._port, self._passive_ports = host, port, passive_ports
        self._tls, self._homes, self._receiver = tls, data_dir / "ftp", receiver
        self._accounts, self._logins, self._limits = accounts, logins, limits
        self._passive_address = passive_address or None
        self._sweep_every_s = sweep_every_s
        self._server: CameraFtpServer | None = None

    async def on_start(self) -> None:
        bind(self._host, self._port, setting="ftp.port").close()  # a clear error when the port is taken
        self._homes.mkdir(parents=True, exist_ok=True)
        self._server = CameraFtpServer(
            tls=self._tls(),
            data_tls=self._tls(),  # a context of its own: the server changes its settings
            homes=self._homes,
            receiver=self._receiver,
            accounts=self._accounts,
            logins=self._logins,
            limits=self._limits,
            data_ports=self._passive_ports,
            block_size=256 * 1024,  # photos are megabytes: fewer, larger reads keep the loop free
            ipv4_pasv_forced_response_address=self._passive_address,
            socket_timeout=60,
            welcome_message="Addax FTPS: AUTH TLS required",
        )
        try:
            await self._server.start(self._host, self._port, reuse_address=True)
        except OSError as error:
            raise PortInUse(f"ftp.port: cannot listen on {self._host}:{self._port}: {error}") from None

    async def run(self) -> None:
        assert self._server is not None
        async with asyncio.TaskGroup() as group:
            group.create_task(self._server.serve_forever())
            while True:
                removed = await asyncio.to_thread(remove_stale_temporary_files, self._homes, STALE_TEMPORARY_S)
                if removed:
                    log.info("removed abandoned temporary uploads", extra={"actor": self.name, "count": removed})
                await asyncio.sleep(self._sweep_every_s)

    async def on_stop(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None


def remove_stale_temporary_files(homes: Path, older_than_s: float) -> int:
    """Delete files under a temporary name that nobody renamed for ``older_than_s``; returns how many."""
    cutoff = time.time() - older_than_s
    removed = 0
    for path in homes.rglob("*"):
        try:
            if TEMPORARY_NAME.search(path.name) and path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except OSError:
            continue  # renamed or removed meanwhile
    return removed
