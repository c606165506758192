"""A caller that hangs up before its answer is written (a camera or a script that sends and closes) is nobody's
failure: no "request failed" error with a traceback per request, no 500, and the next caller gets every byte."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket

import aiohttp
import pytest

from addax.api import build_api
from addax.api.context import SERVICES
from addax.runtime.servers import AiohttpServer
from tests.api.test_intake_api import form, wait_for_rows
from tests.conftest import free_port
from tests.domain import jpeg_factory
from tests.waiting import eventually


async def test_callers_that_hang_up_after_pipelined_requests_are_no_server_error(
    make_api, backend, device, bearer, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_api()
    project_id, token = device
    photo = jpeg_factory.willfine_jpeg()
    await client.post("/api/v1/upload", data=form("IMG_0001.JPG", photo), headers={"X-API-Token": token})
    (row,) = await wait_for_rows(backend, project_id, 1)
    # The service's own server (the test client's cancels a handler whose caller left; the service's does not).
    port = free_port()
    services = client.app[SERVICES]
    server = AiohttpServer(name="api", app=lambda: build_api(services), host="127.0.0.1", port=port, setting="t")
    await backend.supervisor.start(server)
    url = f"/api/images/{row['id']}/file?variant=original"
    request = f"GET {url} HTTP/1.1\r\nHost: addax\r\nAuthorization: {bearer['Authorization']}\r\n\r\n".encode()
    caplog.set_level(logging.INFO)

    def send_and_hang_up() -> None:  # a plain blocking client in its own thread, as a camera's firmware is
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", port)) as caller:
                caller.sendall(request * 2)  # two pipelined requests, then closed: the answers have nowhere to go

    await asyncio.to_thread(send_and_hang_up)

    def told() -> list[str]:  # what the API said about the hung-up requests, however it took them
        return [f"{record.levelname} {record.getMessage()}" for record in caplog.records if record.name == "addax.api"]

    await eventually(told, timeout=20, what="the server to notice a caller that hung up")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{url}", headers=bearer) as answer,
    ):
        body = await answer.read()
    assert answer.status == 200 and hashlib.sha256(body).hexdigest() == hashlib.sha256(photo).hexdigest()
    errors = [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], errors
    assert all(line == "INFO the client went away before its answer" for line in told()), told()
