"""``/api/images/{id}/file`` when the object store cannot give the file: missing is 404, a store that is down is
503 (a retry may help), never a 500."""

from __future__ import annotations

import aioboto3

from addax.store.object_s3 import S3Location, S3ObjectStore, _client_config
from tests.api.test_intake_api import form, wait_for_rows
from tests.domain import jpeg_factory
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY


async def test_a_missing_file_is_404_and_a_store_that_is_down_is_503(make_api, backend, device, bearer) -> None:
    client = await make_api()
    project_id, token = device
    await client.post(
        "/api/v1/upload", data=form("IMG_0001.JPG", jpeg_factory.willfine_jpeg()), headers={"X-API-Token": token}
    )
    (row,) = await wait_for_rows(backend, project_id, 1)
    url = f"/api/images/{row['id']}/file?variant=original"

    # nothing listens on port 1: the bucket is unreachable, as when S3 or the network is down
    down = S3Location("http://127.0.0.1:1", "photos", "", ACCESS_KEY, SECRET_KEY, REGION)
    session = aioboto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)
    async with session.client("s3", endpoint_url=down.endpoint_url, config=_client_config(1)) as s3:
        unreachable = await make_api(objects=S3ObjectStore(s3, down))
        answer = await unreachable.get(url, headers=bearer)
        assert answer.status == 503, await answer.text()
        assert "object store" in (await answer.json())["error"]

    await backend.objects.delete(row["original_key"])
    missing = await client.get(url, headers=bearer)
    assert missing.status == 404 and "missing from the object store" in (await missing.json())["error"]
