"""Network servers as actors: an aiohttp application and an ASGI application (via uvicorn).

Both bind their port in ``on_start``, so a port already in use fails the start with a clear error,
and a successful ``start()`` means the port accepts connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn
from aiohttp import web

from addax.runtime.actor import Actor


class PortInUse(Exception):
    """Another process is listening on the port we were told to use."""


def bind(host: str, port: int, *, setting: str) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"{setting}: port {port} on {host} is already in use by another program; stop it or choose another port"
            ) from None
        raise
    sock.listen(512)
    sock.setblocking(False)
    return sock


class AiohttpServer(Actor[None]):
    def __init__(
        self,
        *,
        name: str,
        app: Callable[[], web.Application],
        host: str,
        port: int,
        setting: str,
        tls: Callable[[], ssl.SSLContext] | None = None,
    ) -> None:
        super().__init__(name=name)
        self._make_app = app
        self._host, self._port, self._setting = host, port, setting
        self._tls = tls
        self._runner: web.AppRunner | None = None

    async def on_start(self) -> None:
        sock = bind(self._host, self._port, setting=self._setting)
        self._runner = web.AppRunner(self._make_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        context = self._tls() if self._tls is not None else None
        await web.SockSite(self._runner, sock, shutdown_timeout=5, ssl_context=context).start()

    async def on_stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class _QuietUvicorn(uvicorn.Server):
    """uvicorn without its own signal handling: our process decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AsgiServer(Actor[None]):
    """An ASGI application served by uvicorn; ``start()`` returns once its lifespan start-up is done."""

    def __init__(self, *, name: str, app: Any, host: str, port: int, setting: str, ready_timeout: float = 30) -> None:
        super().__init__(name=name)
        self._app = app
        self._host, self._port, self._setting = host, port, setting
        self._ready_timeout = ready_timeout
        self._server: _QuietUvicorn | None = None
        self._serving: asyncio.Task[None] | None = None

    async def on_start(self) -> None:
        sock = bind(self._host, self._port, setting=self._setting)
        config = uvicorn.Config(
            self._app, lifespan="on", log_config=None, access_log=False, timeout_graceful_shutdown=2
        )  # open browser WebSockets must not hold up a stop
        self._server = _QuietUvicorn(config)
        self._serving = asyncio.ensure_future(self._server.serve(sockets=[sock]))  # awaited by run(), below
        async with asyncio.timeout(self._ready_timeout):
            while not self._server.started:
                if self._serving.done():
                    self._serving.result()  # raises what stopped it
                    raise RuntimeError(f"{self.name} stopped while starting")
                await asyncio.sleep(0.01)

    async def run(self) -> None:
        assert self._server is not None and self._serving is not None
        await self._serving
        if not self._server.should_exit:
            raise RuntimeError(f"{self.name} stopped serving")

    def request_stop(self) -> bool:
        if self._server is None:
            return False
        self._server.should_exit = True
        return True

    async def on_stop(self) -> None:
        if self._serving is not None and not self._serving.done():
            if self._server is not None:
                self._server.should_exit = True
            try:
                await asyncio.wait_for(asyncio.shield(self._serving), 10)
            except TimeoutError:
                self._serving.cancel()
                await asyncio.gather(self._serving, return_exceptions=True)
        self._serving = None
        self._server = None
