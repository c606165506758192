"""What users get of a processed photo: blurred thumbnail and annotated copies; the original only for admins."""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO

from PIL import Image

from addax.config import Config, General, Models
from addax.domain.secrets import hash_password, new_token, token_digest
from addax.pipeline import start_pipeline
from addax.store import accounts
from tests.api.test_intake_api import form, wait_for_rows
from tests.conftest import world_readable_tempdir
from tests.domain import jpeg_factory
from tests.models.graphs import FakeBox, detector_model
from tests.waiting import eventually

PERSON = FakeBox(32, 32, 16, 16, 1, 0.9)


async def test_a_viewer_sees_blurred_copies_and_an_admin_unblurs_the_original_audited(
    make_api, backend, device, bearer, unique
) -> None:
    models_dir = world_readable_tempdir("addax-models-") / "models"
    detector_model(models_dir, boxes=[PERSON], name="md")
    config = Config(
        general=General(data_dir=str(models_dir.parent)),
        models=Models(dir=str(models_dir), batch_wait_ms=2, providers=["CPUExecutionProvider"]),
    )
    await start_pipeline(backend.supervisor, config, pool=backend.pool, objects=backend.objects, worker="t")
    client = await make_api()
    project_id, token = device
    photo = jpeg_factory.willfine_jpeg()
    await client.post("/api/v1/upload", data=form("IMG_0001.JPG", photo), headers={"X-API-Token": token})
    (row,) = await wait_for_rows(backend, project_id, 1)

    async def done() -> bool:
        return await backend.pool.fetchval("SELECT stage::text FROM images WHERE id = $1", row["id"]) == "done"

    await eventually(done, what="the photo to be processed")
    viewer = await accounts.add_user(
        backend.pool, f"v-{unique}@x", hash_password("p"), role=accounts.Role.VIEWER, project=f"api-{unique}", by="t"
    )
    viewer_token = new_token()
    await accounts.issue_api_token(backend.pool, viewer, token_digest(viewer_token), ttl=timedelta(hours=1))
    as_viewer = {"Authorization": f"Bearer {viewer_token}"}

    detail = await (await client.get(f"/api/images/{row['id']}", headers=as_viewer)).json()
    assert [d["label"] for d in detail["detections"]] == ["person"] and detail["stage"] == "done"
    for variant, longest in (("thumbnail", 300), ("annotated", 1920)):
        response = await client.get(f"/api/images/{row['id']}/file?variant={variant}", headers=as_viewer)
        assert response.status == 200 and response.content_type == "image/jpeg"
        assert max(Image.open(BytesIO(await response.read())).size) <= longest
    refused = await client.get(f"/api/images/{row['id']}/file?variant=original", headers=as_viewer)
    assert refused.status == 403 and "people or vehicles" in (await refused.json())["error"]
    assert await backend.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'image.unblur'") == 0

    original = await client.get(f"/api/images/{row['id']}/file?variant=original", headers=bearer)
    assert original.status == 200 and await original.read() == photo
    audited = await backend.pool.fetchrow("SELECT actor, target FROM audit_log WHERE action = 'image.unblur'")
    assert audited["target"] == f"image:{row['id']}" and audited["actor"].startswith("user-")

    metrics = await (await client.get("/metrics")).text()
    assert 'addax_images{stage="stored"} 0.0' in metrics
    assert 'addax_processing_latency_seconds{quantile="0.95"}' in metrics
    assert "addax_dead_letters 0.0" in metrics
    assert "addax_notifications_pending 0.0" in metrics
    assert 'addax_actor_up{actor="detector"} 1.0' in metrics
