"""Request bodies: small JSON bodies everywhere, refused on their announced length; large ones only for uploads."""

from __future__ import annotations

import asyncio
import json
import time

from addax.api.limits import JSON_BODY_BYTES
from tests.api.test_accounts import login
from tests.api.test_intake_api import form, wait_for_rows
from tests.domain import jpeg_factory


async def raw_request(client, head: str, body: bytes, *, wait_s: float = 5) -> tuple[str, dict, float]:
    """Send a request head and a little of its body on a plain socket; (status line, JSON body, seconds)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    started = time.monotonic()
    try:
        writer.write(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        await writer.drain()
        async with asyncio.timeout(wait_s):  # the rest of the announced body never comes
            status = (await reader.readline()).decode().strip()
            headers = {}
            while (line := (await reader.readline()).decode().strip()) != "":
                name, _, value = line.partition(":")
                headers[name.lower()] = value.strip()
            payload = await reader.readexactly(int(headers["content-length"]))
        return status, json.loads(payload) | {"connection": headers.get("connection")}, time.monotonic() - started
    finally:
        writer.close()


async def test_a_large_announced_json_body_is_refused_before_it_is_sent(make_api) -> None:
    client = await make_api()
    head = (
        "POST /api/auth/token HTTP/1.1\n"
        f"Host: {client.server.host}\n"
        "Content-Type: application/json\n"
        f"Content-Length: {64 * 2**20}\n"
    )
    status, body, seconds = await raw_request(client, head, b'{"email": "a@b", "password": "')
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert body == {"error": "the request body is larger than 64 KiB", "status": 413, "connection": "close"}
    assert seconds < 2  # answered at once, not after waiting for 64 MiB


async def test_a_large_upload_is_refused_on_its_announced_length_before_authentication(make_api) -> None:
    client = await make_api(max_upload_bytes=2 * 2**20)
    head = (
        "POST /api/v1/upload HTTP/1.1\n"
        f"Host: {client.server.host}\n"
        "Content-Type: multipart/form-data; boundary=x\n"
        f"Content-Length: {3 * 2**20}\n"
    )
    status, body, seconds = await raw_request(client, head, b"--x\r\n")
    assert status.startswith("HTTP/1.1 413") and body["error"] == "the request body is larger than 2 MiB"
    assert seconds < 2


async def test_oversized_json_bodies_get_json_413s(make_api, bearer) -> None:
    client = await make_api()
    padding = "x" * JSON_BODY_BYTES
    announced = await client.post("/api/auth/token", json={"email": "a@b", "password": padding})
    assert announced.status == 413
    assert await announced.json() == {"error": "the request body is larger than 64 KiB", "status": 413}

    async def chunks():  # no Content-Length: cut off while it is read
        yield b'{"email": "a@b", "password": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    chunked = await client.post("/api/auth/token", data=chunks(), headers={"Content-Type": "application/json"})
    assert chunked.status == 413 and (await chunked.json())["status"] == 413
    patched = await client.patch("/api/users/1", data=chunks(), headers=bearer)
    assert patched.status == 413
    small = await client.post("/api/auth/token", json={"email": "a@b", "password": "x" * 1000})
    assert small.status == 401  # a normal body still reaches the login


async def test_overlong_login_fields_are_refused_before_any_hashing(make_api, backend, user) -> None:
    client = await make_api()
    email, password = user
    for body in (
        {"email": "a" * 310 + "@example.org", "password": "x"},
        {"email": email, "password": "x" * 1025},
    ):
        response = await client.post("/api/auth/token", json=body)
        assert response.status == 400 and "at most 320 characters" in (await response.json())["error"]
    assert await backend.pool.fetchval("SELECT count(*) FROM auth_failures WHERE account = $1", email) == 0
    await login(client, email, password)  # nothing counted against the account


async def test_uploads_of_several_megabytes_stream_past_the_json_limit(make_api, backend, device) -> None:
    client = await make_api(max_upload_bytes=8 * 2**20)
    project_id, token = device
    photo = jpeg_factory.willfine_jpeg() + bytes(5 * 2**20)  # a photo with 5 MiB of trailing data
    response = await client.post("/api/v1/upload", data=form("IMG_0001.JPG", photo), headers={"X-API-Token": token})
    assert response.status == 202, await response.text()
    (row,) = await wait_for_rows(backend, project_id, 1)
    assert row["size_bytes"] == len(photo)


async def test_the_upload_limit_still_applies_to_the_file_in_a_body_of_allowed_length(make_api, device) -> None:
    client = await make_api(max_upload_bytes=2 * 2**20)
    _, token = device
    photo = jpeg_factory.willfine_jpeg() + bytes(2 * 2**20)  # just over 2 MiB: the body passes the length check
    response = await client.post("/api/v1/upload", data=form("IMG_0001.JPG", photo), headers={"X-API-Token": token})
    assert response.status == 413 and (await response.json())["error"] == "file exceeds the limit of 2 MB"
