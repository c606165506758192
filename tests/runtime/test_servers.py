"""Server actors bind in ``on_start``: a started server answers; a taken port fails naming the setting."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from addax.runtime.servers import AiohttpServer, AsgiServer, PortInUse, bind
from addax.runtime.supervisor import Supervisor

HOST = "127.0.0.1"
DEADLINE_S = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def make_app() -> web.Application:
    async def ping(request: web.Request) -> web.Response:
        return web.json_response({"pong": True})

    app = web.Application()
    app.router.add_get("/ping", ping)
    return app


def http_server(port: int, *, name: str = "http") -> AiohttpServer:
    return AiohttpServer(name=name, app=make_app, host=HOST, port=port, setting="http.port")


async def get_json(port: int, path: str = "/ping") -> tuple[int, Any]:
    async with asyncio.timeout(DEADLINE_S), aiohttp.ClientSession() as session:
        async with session.get(f"http://{HOST}:{port}{path}") as response:
            return response.status, await response.json()


async def test_an_aiohttp_server_answers_once_started() -> None:
    port = free_port()
    server = http_server(port)
    async with Supervisor(stop_timeout=5) as supervisor:
        await supervisor.start(server)
        assert await get_json(port) == (200, {"pong": True})
        assert server.health().alive

    assert not server.health().alive
    bind(HOST, port, setting="http.port").close()  # the port was released on stop


async def test_a_second_server_on_the_same_port_fails_naming_the_setting_and_port() -> None:
    port = free_port()
    first = http_server(port, name="http")
    second = http_server(port, name="http-again")
    async with Supervisor(stop_timeout=5) as supervisor:
        await supervisor.start(first)
        with pytest.raises(PortInUse) as caught:
            await supervisor.start(second)

        message = str(caught.value)
        assert message.startswith("http.port:")
        assert str(port) in message
        assert "already in use" in message
        assert supervisor.actors == [first]
        assert await get_json(port) == (200, {"pong": True}), "the first server keeps serving"


async def test_bind_reports_a_port_taken_by_another_program() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind((HOST, 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(PortInUse, match=rf"^ftp\.port: port {port} on {HOST} "):
            bind(HOST, port, setting="ftp.port")


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def tiny_asgi(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"pong": true}'})


async def test_an_asgi_server_answers_and_stops_when_asked() -> None:
    port = free_port()
    server = AsgiServer(name="ui", app=tiny_asgi, host=HOST, port=port, setting="ui.port")
    async with Supervisor(stop_timeout=5) as supervisor:
        await supervisor.start(server)
        assert await get_json(port) == (200, {"pong": True})

        taken = AsgiServer(name="ui-again", app=tiny_asgi, host=HOST, port=port, setting="ui.port")
        with pytest.raises(PortInUse, match=rf"^ui\.port: port {port} "):
            await supervisor.start(taken)

    assert server.restarts == 0
    assert server.last_error is None, "a requested stop is not a crash"
    bind(HOST, port, setting="ui.port").close()
