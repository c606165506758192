"""The bucket backend against a real S3 server (moto's), checked behind Addax's back with a plain boto3 client."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aioboto3
import aiohttp
import pytest
from aiohttp import web

from addax.store.object_s3 import MIB, S3Location, S3ObjectStore, _client_config, open_s3_store
from addax.store.objects import ObjectMissing, ObjectStoreError
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.waiting import eventually


def location(s3_server: S3Server, bucket: str, prefix: str = "addax", endpoint: str = "") -> S3Location:
    return S3Location(endpoint or s3_server.endpoint_url, bucket, prefix, ACCESS_KEY, SECRET_KEY, REGION)


@pytest.fixture
def bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture
async def store(s3_server: S3Server, bucket: str) -> AsyncIterator[S3ObjectStore]:
    async with open_s3_store(location(s3_server, bucket), multipart_threshold=5 * MIB) as opened:
        yield opened


def uploads(s3_server: S3Server, bucket: str) -> list[dict[str, object]]:
    return list(s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def stored_sha256(s3_server: S3Server, bucket: str, key: str) -> str:
    body = s3_server.client().get_object(Bucket=bucket, Key=key)["Body"]
    digest = hashlib.sha256()
    for chunk in body.iter_chunks(MIB):
        digest.update(chunk)
    return digest.hexdigest()


async def test_large_file_goes_up_in_checksummed_parts(
    store: S3ObjectStore, s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(12 * MIB))
    await store.put_file("originals/1/ab/video.mp4", video)

    expected = hashlib.sha256(video.read_bytes()).hexdigest()
    assert stored_sha256(s3_server, bucket, "addax/originals/1/ab/video.mp4") == expected
    head = s3_server.client().head_object(Bucket=bucket, Key="addax/originals/1/ab/video.mp4")
    assert head["ETag"].strip('"').endswith("-3")  # three parts of 5, 5 and 2 MiB
    assert head["ContentLength"] == 12 * MIB
    assert uploads(s3_server, bucket) == []
    assert await store.stored_sha256("originals/1/ab/video.mp4") is None  # a checksum of part checksums

    await store.put_bytes("derived/1/001/1/thumbnail.jpg", b"thumb")  # small: one put, its SHA-256 kept
    assert await store.stored_sha256("derived/1/001/1/thumbnail.jpg") == hashlib.sha256(b"thumb").hexdigest()


async def test_a_bucket_that_refuses_writes(
    store: S3ObjectStore, s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3_server.client().put_bucket_policy(
        Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    )
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(6 * MIB))

    for attempt in (store.put_bytes("originals/1/aa/a.jpg", b"photo"), store.put_file("originals/1/aa/v.mp4", video)):
        with pytest.raises(ObjectStoreError) as refused:
            await attempt
        (line,) = str(refused.value).splitlines()
        assert "access denied" in line and f"s3://{bucket}/addax" in line
        assert SECRET_KEY not in line
    assert s3_server.client().list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert uploads(s3_server, bucket) == []


async def test_opening_a_bucket_that_is_not_there(s3_server: S3Server, bucket: str) -> None:
    with pytest.raises(ObjectStoreError) as missing:
        async with open_s3_store(location(s3_server, "addax-no-such-bucket")):
            pass
    assert str(missing.value) == f"bucket addax-no-such-bucket at {s3_server.endpoint_url}: does not exist"


async def test_an_endpoint_that_does_not_answer(s3_server: S3Server) -> None:
    with pytest.raises(ObjectStoreError) as unreachable:
        # One attempt: the retries of a transient failure (a minute of backoff) are another test's subject.
        async with open_s3_store(location(s3_server, "addax", endpoint="http://127.0.0.1:9"), attempts=1):
            pass
    message = str(unreachable.value)
    assert message.startswith("bucket addax at http://127.0.0.1:9: unreachable") and "retry may help" in message
    assert SECRET_KEY not in message


async def test_an_object_deleted_behind_our_back(store: S3ObjectStore, s3_server: S3Server, bucket: str) -> None:
    await store.put_bytes("originals/1/cc/c.jpg", b"photo")
    s3_server.client().delete_object(Bucket=bucket, Key="addax/originals/1/cc/c.jpg")
    with pytest.raises(ObjectMissing, match=r"originals/1/cc/c\.jpg"):
        await store.read("originals/1/cc/c.jpg")
    with pytest.raises(ObjectMissing):
        async for _ in store.stream("originals/1/cc/c.jpg"):
            pass
    with pytest.raises(ObjectMissing):
        await store.size("originals/1/cc/c.jpg")
    assert not await store.exists("originals/1/cc/c.jpg")


async def test_prefixes_keep_stores_apart(s3_server: S3Server, bucket: str) -> None:
    async with (
        open_s3_store(location(s3_server, bucket, "hot")) as hot,
        open_s3_store(location(s3_server, bucket, "cold/tier")) as cold,
        open_s3_store(location(s3_server, bucket, "")) as whole,
    ):
        assert (hot.location, cold.location, whole.location) == (
            f"s3://{bucket}/hot",
            f"s3://{bucket}/cold/tier",
            f"s3://{bucket}",
        )
        await hot.put_bytes("originals/1/aa/a.jpg", b"hot")
        await cold.put_bytes("originals/1/aa/a.jpg", b"cold")
        await cold.put_bytes("originals/1/bb/b.jpg", b"cold only")
        assert await hot.read("originals/1/aa/a.jpg") == b"hot"
        assert not await hot.exists("originals/1/bb/b.jpg")
        assert [item.key async for item in hot.list()] == ["originals/1/aa/a.jpg"]
        assert [item.key async for item in cold.list("originals/")] == ["originals/1/aa/a.jpg", "originals/1/bb/b.jpg"]
        assert [item.key async for item in whole.list()] == [
            "cold/tier/originals/1/aa/a.jpg",
            "cold/tier/originals/1/bb/b.jpg",
            "hot/originals/1/aa/a.jpg",
        ]
        await cold.delete("originals/1/aa/a.jpg")
        assert await hot.read("originals/1/aa/a.jpg") == b"hot"


async def test_an_upload_cut_off_by_a_killed_process_is_aborted(s3_server: S3Server, bucket: str) -> None:
    client = s3_server.client()

    def killed_upload(key: str) -> None:
        """What a process killed during a multipart upload leaves: an upload with a part, never completed."""
        upload = client.create_multipart_upload(Bucket=bucket, Key=key)
        client.upload_part(Bucket=bucket, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=os.urandom(MIB))

    killed_upload("addax/originals/1/dd/d.mp4")
    killed_upload("elsewhere/d.mp4")  # another prefix's: not ours to touch
    # Opening the store after the restart aborts the uploads older than a day. (moto dates every upload in 2010,
    # so here that is every one of ours.)
    async with open_s3_store(location(s3_server, bucket)) as store:
        assert [upload["Key"] for upload in uploads(s3_server, bucket)] == ["elsewhere/d.mp4"]
        killed_upload("addax/originals/1/dd/d2.mp4")
        assert await store.abort_stale_uploads(timedelta(0)) == 1
        assert await store.abort_stale_uploads(timedelta(0)) == 0
    assert [upload["Key"] for upload in uploads(s3_server, bucket)] == ["elsewhere/d.mp4"]
    assert client.list_objects_v2(Bucket=bucket).get("Contents", []) == []


async def test_a_cancelled_upload_leaves_no_parts(
    store: S3ObjectStore, s3_server: S3Server, bucket: str, tmp_path: Path
) -> None:
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(80 * MIB))  # long enough to be cut off under load
    put = asyncio.create_task(store.put_file("originals/1/ee/e.mp4", video))

    def a_part_arrived() -> bool:
        # A part, not just the upload: before its first part the store may not yet know the upload's id (a
        # cancel then leaves the upload to abort_stale_uploads).
        client = s3_server.client()
        return put.done() or any(
            client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]).get("Parts")
            for upload in uploads(s3_server, bucket)
        )

    await eventually(a_part_arrived, what="a part of the upload to arrive")
    assert not put.done()
    put.cancel()
    with pytest.raises(asyncio.CancelledError):
        await put
    assert uploads(s3_server, bucket) == []
    assert not await store.exists("originals/1/ee/e.mp4")


class FlakyProxy:
    """In front of the S3 server: answers the first ``failures`` PUTs with 503 SlowDown, as a busy S3 does."""

    def __init__(self, upstream: str, failures: int) -> None:
        self.upstream = upstream
        self.failures = failures
        self.refused = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "PUT" and self.refused < self.failures:
            self.refused += 1
            await request.read()
            body = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            return web.Response(status=503, text=body, content_type="application/xml")
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(
                request.method,
                self.upstream + request.path_qs,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
                data=await request.read(),
            ) as answer,
        ):
            body = await answer.read()
            dropped = ("transfer-encoding",) if request.method == "HEAD" else ("transfer-encoding", "content-length")
            headers = {k: v for k, v in answer.headers.items() if k.lower() not in dropped}
            return web.Response(status=answer.status, body=body or None, headers=headers)


async def test_a_put_refused_by_a_busy_server_is_retried(s3_server: S3Server, bucket: str) -> None:
    proxy = FlakyProxy(s3_server.endpoint_url, failures=2)
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with open_s3_store(location(s3_server, bucket, endpoint=f"http://127.0.0.1:{port}")) as store:
            await store.put_bytes("originals/1/ff/f.jpg", b"photo")
            assert proxy.refused == 2
            assert await store.read("originals/1/ff/f.jpg") == b"photo"
    finally:
        await runner.cleanup()


async def test_a_read_cut_off_mid_body_is_a_store_error(tmp_path: Path) -> None:
    """The server promises 1 MiB, sends 1000 bytes and hangs up: a retry may help, so ObjectStoreError (not
    aiohttp's own exception, which the pipeline would count against the image)."""

    async def cut_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 1048576\r\n\r\n" + b"x" * 1000)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(cut_off, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    place = S3Location(f"http://127.0.0.1:{port}", "cut", "", ACCESS_KEY, SECRET_KEY, REGION)
    session = aioboto3.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)
    try:
        async with session.client("s3", endpoint_url=place.endpoint_url, config=_client_config(1)) as client:
            store = S3ObjectStore(client, place)
            with pytest.raises(ObjectStoreError, match="cut off"):
                await store.read("originals/1/ab/cut.jpg")
    finally:
        server.close()
        await server.wait_closed()
