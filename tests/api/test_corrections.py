"""Admins correct what the ingestor decided: rename a site, reassign a deployment, "not moved", manual placement."""

from __future__ import annotations

import asyncio

from tests.api.test_intake_api import form, wait_for_rows
from tests.domain import jpeg_factory

HOME = (52.098737, 5.125504)
AWAY = (52.125700, 5.125504)  # 3 km north


async def upload(client, token: str, name: str, data: bytes) -> None:
    response = await client.post("/api/v1/upload", data=form(name, data), headers={"X-API-Token": token})
    assert response.status == 202


async def test_not_moved_folds_the_new_deployment_back(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    await upload(client, token, "a.jpg", jpeg_factory.willfine_jpeg(taken="2025:12:01 10:00:00", latitude=HOME[0]))
    await wait_for_rows(backend, project_id, 1)
    for day in ("02", "03"):
        photo = jpeg_factory.willfine_jpeg(taken=f"2025:12:{day} 10:00:00", latitude=AWAY[0], longitude=AWAY[1])
        await upload(client, token, f"b{day}.jpg", photo)
        await wait_for_rows(backend, project_id, 1 + int(day) - 1)
    deployments = (await (await client.get("/api/deployments", headers=bearer)).json())["deployments"]
    assert len(deployments) == 2
    updates = (await (await client.get(f"/api/camera-updates?project={project_id}", headers=bearer)).json())["updates"]
    moved = next(update for update in updates if update["kind"] == "moved")

    response = await client.post(f"/api/camera-updates/{moved['id']}/not-moved", headers=bearer)
    assert response.status == 200, await response.text()
    assert (await response.json())["images_moved"] == 2
    after = (await (await client.get("/api/deployments", headers=bearer)).json())["deployments"]
    assert len(after) == 1 and after[0]["ends_on"] is None and after[0]["images"] == 3
    again = await client.post(f"/api/camera-updates/{moved['id']}/not-moved", headers=bearer)
    assert again.status == 409


async def test_rename_site_and_reassign_deployment(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    await upload(client, token, "a.jpg", jpeg_factory.willfine_jpeg(serial="CAM-A"))
    await upload(client, token, "b.jpg", jpeg_factory.willfine_jpeg(serial="CAM-B", latitude=AWAY[0]))
    await wait_for_rows(backend, project_id, 2)
    sites = (await (await client.get(f"/api/sites?project={project_id}", headers=bearer)).json())["sites"]
    assert len(sites) == 2
    renamed = await client.patch(f"/api/sites/{sites[0]['id']}", json={"name": "Wolf pass"}, headers=bearer)
    assert renamed.status == 200
    clash = await client.patch(f"/api/sites/{sites[1]['id']}", json={"name": "Wolf pass"}, headers=bearer)
    assert clash.status == 409 and "already called" in (await clash.json())["error"]

    deployments = (await (await client.get("/api/deployments", headers=bearer)).json())["deployments"]
    second = next(d for d in deployments if d["site_id"] == sites[1]["id"])
    moved = await client.post(
        f"/api/deployments/{second['id']}/reassign", json={"site_id": sites[0]["id"]}, headers=bearer
    )
    assert moved.status == 200 and (await moved.json())["images_moved"] == 1
    site_ids = {
        r["site_id"] for r in await backend.pool.fetch("SELECT site_id FROM images WHERE project_id = $1", project_id)
    }
    assert site_ids == {sites[0]["id"]}
    audit = await backend.pool.fetch(
        "SELECT action FROM audit_log WHERE action IN ('site.rename', 'deployment.reassign')"
    )
    assert {row["action"] for row in audit} == {"site.rename", "deployment.reassign"}


async def test_camera_without_gps_is_placed_by_hand(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    await upload(client, token, "gps.jpg", jpeg_factory.willfine_jpeg())
    await upload(client, token, "RCNX0001.JPG", jpeg_factory.reconyx_jpeg(taken="2025:06:14 05:12:09"))
    rows = await wait_for_rows(backend, project_id, 2)
    reconyx = next(row for row in rows if row["original_name"] == "RCNX0001.JPG")
    assert reconyx["site_id"] is None
    (site,) = (await (await client.get(f"/api/sites?project={project_id}", headers=bearer)).json())["sites"]
    placed = await client.post(
        f"/api/cameras/{reconyx['camera_id']}/place", json={"site_id": site["id"], "from": "2025-06-01"}, headers=bearer
    )
    assert placed.status == 200, await placed.text()
    async with asyncio.timeout(5):
        row = await backend.pool.fetchrow("SELECT site_id, deployment_id FROM images WHERE id = $1", reconyx["id"])
    assert row["site_id"] == site["id"] and row["deployment_id"] is not None
    bad = await client.post(
        f"/api/cameras/{reconyx['camera_id']}/place", json={"site_id": site["id"], "from": "x"}, headers=bearer
    )
    assert bad.status == 409 and "must be a date" in (await bad.json())["error"]


async def test_admin_approves_a_pending_camera_and_sets_its_clock_zone(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    await upload(client, token, "a.jpg", jpeg_factory.willfine_jpeg(taken="2025:07:01 12:00:00"))
    (row,) = await wait_for_rows(backend, project_id, 1)
    assert row["taken_at"].hour == 12  # project zone UTC: the camera's local noon taken as UTC
    camera_id = row["camera_id"]

    changes = {"status": "active", "timezone": "Europe/Amsterdam", "name": "Wolf pass north"}
    edited = await client.patch(f"/api/cameras/{camera_id}", json=changes, headers=bearer)
    assert edited.status == 200, await edited.text()
    body = await edited.json()
    assert (body["status"], body["name"]) == ("active", "Wolf pass north")
    await upload(client, token, "b.jpg", jpeg_factory.willfine_jpeg(taken="2025:07:01 13:00:00"))
    rows = await wait_for_rows(backend, project_id, 2)
    assert rows[1]["taken_at"].hour == 11 and rows[1]["utc_offset_minutes"] == 120  # CEST, from the camera's zone

    bad = await client.patch(f"/api/cameras/{camera_id}", json={"timezone": "Mars/Olympus"}, headers=bearer)
    assert bad.status == 400 and "unknown time zone" in (await bad.json())["error"]
    assert (await client.patch(f"/api/cameras/{camera_id}", json={"status": "gone"}, headers=bearer)).status == 400
