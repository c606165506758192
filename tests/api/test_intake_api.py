"""Device upload over HTTPS, browsing what was filed, rejections and their reprocessing, live events."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.domain import jpeg_factory
from tests.waiting import eventually


def form(name: str, data: bytes) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("file", data, filename=name, content_type="application/octet-stream")
    return body


async def wait_for_rows(backend, project_id: int, count: int) -> list:
    async def rows() -> list | None:
        found = await backend.pool.fetch("SELECT * FROM images WHERE project_id = $1 ORDER BY id", project_id)
        return found if len(found) >= count else None

    return await eventually(rows, what=f"{count} image rows")


async def test_device_upload_is_ingested_and_browsable(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    photo = jpeg_factory.willfine_jpeg()
    response = await client.post("/api/v1/upload", data=form("IMG_0001.JPG", photo), headers={"X-API-Token": token})
    assert response.status == 202, await response.text()
    (row,) = await wait_for_rows(backend, project_id, 1)
    assert row["stage"] == "stored" and row["source"] == "http" and row["upload_account"] == "gateway"

    listing = await (await client.get(f"/api/images?project={project_id}", headers=bearer)).json()
    assert [image["id"] for image in listing["images"]] == [row["id"]] and listing["next_cursor"] is None
    detail = await (await client.get(f"/api/images/{row['id']}", headers=bearer)).json()
    assert detail["camera_id"] == row["camera_id"] and detail["detections"] == [] and detail["latitude"] > 52
    original = await client.get(f"/api/images/{row['id']}/file?variant=original", headers=bearer)
    assert original.status == 200 and await original.read() == photo

    cameras = (await (await client.get(f"/api/cameras?project={project_id}", headers=bearer)).json())["cameras"]
    assert [camera["identity"] for camera in cameras] == [jpeg_factory.WILLFINE_SERIAL]
    assert cameras[0]["status"] == "pending" and cameras[0]["images"] == 1
    sites = (await (await client.get(f"/api/sites?project={project_id}", headers=bearer)).json())["sites"]
    deployments = (await (await client.get("/api/deployments", headers=bearer)).json())["deployments"]
    assert len(sites) == 1 and [d["site_id"] for d in deployments if d["camera_id"] == row["camera_id"]] == [
        sites[0]["id"]
    ]
    updates = await (await client.get(f"/api/camera-updates?project={project_id}", headers=bearer)).json()
    assert {update["kind"] for update in updates["updates"]} >= {"registered", "first_placement"}


async def test_cursor_pagination_walks_every_image_once(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    for minute in range(7):
        photo = jpeg_factory.willfine_jpeg(taken=f"2025:12:05 10:{minute:02d}:00")
        await client.post("/api/v1/upload", data=form(f"IMG_{minute}.JPG", photo), headers={"X-API-Token": token})
    await wait_for_rows(backend, project_id, 7)
    seen, cursor = [], ""
    while True:
        page = await (
            await client.get(f"/api/images?project={project_id}&limit=3&cursor={cursor}", headers=bearer)
        ).json()
        seen += [image["id"] for image in page["images"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 7 and seen == sorted(seen, reverse=True)


async def test_upload_refusals_are_clear(make_api, device) -> None:
    client = await make_api()
    _, token = device
    no_token = await client.post("/api/v1/upload", data=form("a.jpg", b"x"))
    assert no_token.status == 401 and "X-API-Token" in (await no_token.json())["error"]
    wrong = await client.post("/api/v1/upload", data=form("a.jpg", b"x"), headers={"X-API-Token": "nope"})
    assert wrong.status == 401
    no_file = await client.post("/api/v1/upload", data={"other": "x"}, headers={"X-API-Token": token})
    assert no_file.status == 400 and "'file'" in (await no_file.json())["error"]
    too_big = await client.post(
        "/api/v1/upload", data=form("big.jpg", b"\xff\xd8\xff" + b"0" * 3 * 2**20), headers={"X-API-Token": token}
    )
    assert too_big.status == 413


async def test_an_upload_cut_off_mid_body_keeps_nothing(make_api, backend, device) -> None:
    client = await make_api()
    project_id, token = device
    photo = jpeg_factory.noisy_jpeg(640, 480)
    part = (
        b'--cut\r\nContent-Disposition: form-data; name="file"; filename="IMG_0001.JPG"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n"
    )
    head = (
        f"POST /api/v1/upload HTTP/1.1\r\nHost: {client.server.host}\r\nX-API-Token: {token}\r\n"
        f"Content-Type: multipart/form-data; boundary=cut\r\nContent-Length: {len(part) + len(photo) + 10}\r\n\r\n"
    )
    _, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(head.encode() + part + photo[: len(photo) // 2])
    await writer.drain()
    await eventually(lambda: list(backend.spool.directory.glob("*.part")), what="the upload to arrive")
    writer.close()  # the signal is lost halfway
    await eventually(lambda: not list(backend.spool.directory.iterdir()), what="the half file to be removed")
    assert await backend.pool.fetchval("SELECT count(*) FROM images WHERE project_id = $1", project_id) == 0


async def test_an_upload_while_the_disk_is_nearly_full_is_refused_and_keeps_nothing(make_api, backend, device) -> None:
    client = await make_api(min_free_bytes=2**60)  # more free space wanted than any disk has
    project_id, token = device
    response = await client.post(
        "/api/v1/upload", data=form("IMG_0001.JPG", jpeg_factory.willfine_jpeg()), headers={"X-API-Token": token}
    )
    assert response.status == 507 and int(response.headers["Retry-After"]) > 0
    assert "insufficient storage" in (await response.json())["error"]
    assert not list(backend.spool.directory.iterdir())
    assert await backend.pool.fetchval("SELECT count(*) FROM images WHERE project_id = $1", project_id) == 0


async def test_rejection_is_listed_and_reprocessed_after_the_cause_is_fixed(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    await backend.pool.execute("UPDATE projects SET require_camera_registration = true WHERE id = $1", project_id)
    await client.post(
        "/api/v1/upload", data=form("IMG_0001.JPG", jpeg_factory.reconyx_jpeg()), headers={"X-API-Token": token}
    )
    (row,) = await wait_for_rows(backend, project_id, 1)
    assert row["stage"] == "rejected" and row["reject_reason"] == "unknown_camera"
    listed = (await (await client.get("/api/rejections", headers=bearer)).json())["rejections"]
    assert [(r["id"], r["reject_reason"]) for r in listed if r["project_id"] == project_id] == [
        (row["id"], "unknown_camera")
    ]

    await backend.pool.execute("UPDATE projects SET require_camera_registration = false WHERE id = $1", project_id)
    response = await client.post(f"/api/rejections/{row['id']}/reprocess", headers=bearer)
    assert response.status == 202

    async def stored_once() -> bool:
        rows = await backend.pool.fetch("SELECT stage FROM images WHERE project_id = $1", project_id)
        return [row["stage"] for row in rows] == ["stored"]

    await eventually(stored_once, what="the reprocessed file stored")
    again = await client.post(f"/api/rejections/{row['id']}/reprocess", headers=bearer)
    assert again.status == 404


async def test_websocket_announces_received_images(make_api, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    socket = await client.ws_connect(f"/api/ws?token={bearer['Authorization'].split()[1]}")
    await client.post(
        "/api/v1/upload", data=form("IMG_1.JPG", jpeg_factory.willfine_jpeg()), headers={"X-API-Token": token}
    )
    messages = []
    async with asyncio.timeout(30):
        while not any(m["type"] == "image.received" for m in messages):
            messages.append(await socket.receive_json())
    received = next(m for m in messages if m["type"] == "image.received")
    assert received["data"]["project_id"] == project_id and received["data"]["stage"] == "stored"
    assert any(m["type"] == "camera.updated" for m in messages)
    await socket.close()


async def test_websocket_needs_a_token(make_api) -> None:
    client = await make_api()
    response = await client.get("/api/ws")
    assert response.status == 401


async def test_viewers_see_only_their_projects(make_api, backend, device, unique) -> None:
    from datetime import timedelta

    from addax.domain.secrets import hash_password, new_token, token_digest
    from addax.store import accounts

    client = await make_api()
    project_id, _ = device
    await accounts.add_project(backend.pool, f"other-{unique}", by="t")
    viewer = await accounts.add_user(
        backend.pool, f"v-{unique}@x", hash_password("p"), role=accounts.Role.VIEWER, project=f"other-{unique}", by="t"
    )
    token = new_token()
    await accounts.issue_api_token(backend.pool, viewer, token_digest(token), ttl=timedelta(hours=1))
    headers = {"Authorization": f"Bearer {token}"}
    forbidden = await client.get(f"/api/images?project={project_id}", headers=headers)
    assert forbidden.status == 403
    assert (await client.get("/api/images?project=abc", headers=headers)).status == 400
