"""``GET /api/export/camtrap-dp``: a member downloads a valid package as it is made; others find no such project."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from addax.domain.secrets import new_token, token_digest
from addax.store import accounts
from tests.api.conftest import Backend
from tests.formats.camtrap_validate import package_errors
from tests.store.camtrap_world import World, seed


async def _world(backend: Backend) -> World:
    async with backend.pool.acquire() as connection, connection.transaction():
        return await seed(connection, backend.objects)


async def _bearer(backend: Backend, user_id: int) -> dict[str, str]:
    token = new_token()
    await accounts.issue_api_token(backend.pool, user_id, token_digest(token), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def test_a_member_streams_a_valid_package(backend: Backend, make_api: Callable, tmp_path: Path) -> None:
    world = await _world(backend)
    client = await make_api()
    viewer = await _bearer(backend, world.users["viewer@example.org"])
    response = await client.get(f"/api/export/camtrap-dp?project={world.wolves}&site=North+gate", headers=viewer)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Transfer-Encoding"] == "chunked"
    assert response.headers["Content-Disposition"].startswith("attachment")
    body = await response.read()
    with zipfile.ZipFile(io.BytesIO(body)) as package:
        package.extractall(tmp_path)
        media = package.read("media.csv").decode()
    assert package_errors(tmp_path) == []
    assert world.sha["deer0"] in media and world.sha["person0"] not in media  # the site filter


async def test_other_projects_and_bad_filters(backend: Backend, make_api: Callable) -> None:
    world = await _world(backend)
    client = await make_api()
    otter = await _bearer(backend, world.users["otter@example.org"])
    response = await client.get(f"/api/export/camtrap-dp?project={world.wolves}", headers=otter)
    assert response.status == 404 and (await response.json())["error"] == "no such project"
    assert (await client.get(f"/api/export/camtrap-dp?project={world.wolves}")).status == 401
    viewer = await _bearer(backend, world.users["viewer@example.org"])
    response = await client.get(f"/api/export/camtrap-dp?project={world.wolves}&from=yesterday", headers=viewer)
    assert response.status == 400 and "from must be a date" in (await response.json())["error"]
    response = await client.get(f"/api/export/camtrap-dp?project={world.wolves}&site=Nowhere", headers=viewer)
    assert response.status == 422 and "Nowhere" in (await response.json())["error"]


async def test_one_export_too_many_is_told_to_come_back(backend: Backend, make_api: Callable) -> None:
    world = await _world(backend)
    slots = asyncio.Semaphore(1)
    client = await make_api(export_slots=slots)
    viewer = await _bearer(backend, world.users["viewer@example.org"])
    async with slots:  # an export is running
        response = await client.get(f"/api/export/camtrap-dp?project={world.wolves}", headers=viewer)
        assert response.status == 503 and response.headers["Retry-After"] == "60"
        assert "other exports are running" in (await response.json())["error"]
    response = await client.get(f"/api/export/camtrap-dp?project={world.wolves}", headers=viewer)
    assert response.status == 200 and zipfile.is_zipfile(io.BytesIO(await response.read()))
    assert not slots.locked()  # the finished export gave its slot back
