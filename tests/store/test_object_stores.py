"""One contract for every object-store backend: a directory, and a bucket on a real S3 server (moto's)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from addax.store.object_fs import FilesystemObjectStore
from addax.store.object_s3 import MIB, S3Location, open_s3_store
from addax.store.objects import (
    BadObjectKey,
    ObjectMissing,
    ObjectStore,
    StoredObject,
    copy_object,
    sha256_of,
)
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server

BACKENDS = ["fs", "s3"]
BAD_KEYS = ["", "/etc/passwd", "a//b", "a/./b", "../escape", "a/..", "a/", "a\\b"]


@asynccontextmanager
async def open_backend(kind: str, directory: Path, s3_server: S3Server) -> AsyncIterator[ObjectStore]:
    if kind == "fs":
        yield FilesystemObjectStore(directory / "objects")
        return
    location = S3Location(s3_server.endpoint_url, s3_server.new_bucket(), "addax", ACCESS_KEY, SECRET_KEY, REGION)
    async with open_s3_store(location, multipart_threshold=5 * MIB) as bucket:  # S3's smallest part
        yield bucket


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path, s3_server: S3Server) -> AsyncIterator[ObjectStore]:
    async with open_backend(request.param, tmp_path, s3_server) as opened:
        yield opened


async def listed(store: ObjectStore, prefix: str = "") -> list[StoredObject]:
    return [item async for item in store.list(prefix)]


async def test_put_read_size_exists_delete(store: ObjectStore) -> None:
    key = "originals/1/ab/abcdef.jpg"
    assert not await store.exists(key)
    await store.put_bytes(key, b"first")
    await store.put_bytes(key, b"first")  # a retried ingest writes the same bytes again: harmless
    assert await store.read(key) == b"first"
    assert await store.size(key) == 5
    assert await store.exists(key)

    await store.put_bytes(key, b"replaced, longer")
    assert await store.read(key) == b"replaced, longer"
    assert await store.size(key) == 16

    await store.put_bytes("empty/object", b"")
    assert await store.read("empty/object") == b""
    assert await store.size("empty/object") == 0
    sizes: list[int] = []
    assert [chunk async for chunk in store.stream("empty/object", on_size=sizes.append)] == [] and sizes == [0]

    await store.delete(key)
    assert not await store.exists(key)
    await store.delete(key)  # absent: not an error
    assert [item.key for item in await listed(store)] == ["empty/object"]


async def test_put_file_small_and_large_stream_in_bounded_chunks(store: ObjectStore, tmp_path: Path) -> None:
    small = tmp_path / "small.jpg"
    small.write_bytes(b"\xff\xd8 a photo")
    await store.put_file("originals/1/00/small.jpg", small)
    assert await store.read("originals/1/00/small.jpg") == small.read_bytes()

    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(6 * MIB + 12345))  # above the bucket's multipart threshold
    await store.put_file("originals/1/00/video.mp4", video)
    assert await store.size("originals/1/00/video.mp4") == video.stat().st_size

    chunk_size = 64 * 1024
    digest, total, chunks = hashlib.sha256(), 0, 0
    sizes: list[int] = []
    async for chunk in store.stream("originals/1/00/video.mp4", chunk_size, on_size=sizes.append):
        assert sizes == [video.stat().st_size], "the size is told once, before the first chunk"
        assert 0 < len(chunk) <= chunk_size
        digest.update(chunk)
        total += len(chunk)
        chunks += 1
    assert total == video.stat().st_size
    assert chunks >= total // chunk_size
    expected = hashlib.sha256(video.read_bytes()).hexdigest()
    assert digest.hexdigest() == expected
    assert await sha256_of(store, "originals/1/00/video.mp4") == expected


async def test_missing_keys_raise_object_missing(store: ObjectStore) -> None:
    key = "originals/1/00/never-written.jpg"
    with pytest.raises(ObjectMissing) as missing:
        await store.read(key)
    assert isinstance(missing.value, FileNotFoundError)
    with pytest.raises(ObjectMissing):
        await store.size(key)
    with pytest.raises(ObjectMissing):
        async for _ in store.stream(key):
            pass
    with pytest.raises(ObjectMissing):
        await store.move(key, "elsewhere/x.jpg")
    assert not await store.exists("elsewhere/x.jpg")
    assert not await store.exists(key)
    await store.delete(key)


@pytest.mark.parametrize("bad", BAD_KEYS)
async def test_bad_keys_are_refused(store: ObjectStore, bad: str, tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"bytes")
    for attempt in (
        store.put_bytes(bad, b"bytes"),
        store.put_file(bad, source),
        store.read(bad),
        store.size(bad),
        store.exists(bad),
        store.delete(bad),
        store.move(bad, "fine/key"),
    ):
        with pytest.raises(BadObjectKey, match="bad object key"):
            await attempt
    await store.put_bytes("fine/key", b"bytes")
    with pytest.raises(BadObjectKey, match="bad object key"):
        await store.move("fine/key", bad)
    assert await store.read("fine/key") == b"bytes"
    assert [item.key for item in await listed(store)] == ["fine/key"]


async def test_move(store: ObjectStore) -> None:
    await store.put_bytes("originals/1/aa/aa.jpg", b"photo")
    await store.move("originals/1/aa/aa.jpg", "rejected/bad_exif/1/aa.jpg")
    assert not await store.exists("originals/1/aa/aa.jpg")
    assert await store.read("rejected/bad_exif/1/aa.jpg") == b"photo"

    await store.put_bytes("originals/1/bb/bb.jpg", b"new")
    await store.move("originals/1/bb/bb.jpg", "rejected/bad_exif/1/aa.jpg")  # replaces what was there
    assert await store.read("rejected/bad_exif/1/aa.jpg") == b"new"

    await store.move("rejected/bad_exif/1/aa.jpg", "rejected/bad_exif/1/aa.jpg")  # onto itself: kept
    assert await store.read("rejected/bad_exif/1/aa.jpg") == b"new"


async def test_list_in_key_order_under_a_prefix(store: ObjectStore) -> None:
    objects = {"b/2.jpg": b"22", "a/1.jpg": b"1", "a/10.jpg": b"1010", "a/2.jpg": b"2", "ab.jpg": b"ab", "a/x/y": b""}
    for key, data in objects.items():
        await store.put_bytes(key, data)
    everything = await listed(store)
    assert everything == [StoredObject(key, len(objects[key])) for key in sorted(objects)]
    assert [item.key for item in await listed(store, "a/")] == ["a/1.jpg", "a/10.jpg", "a/2.jpg", "a/x/y"]
    assert [item.key for item in await listed(store, "a")] == ["a/1.jpg", "a/10.jpg", "a/2.jpg", "a/x/y", "ab.jpg"]
    assert [item.key for item in await listed(store, "a/1")] == ["a/1.jpg", "a/10.jpg"]
    assert await listed(store, "c/") == []


@pytest.mark.parametrize(("source_kind", "target_kind"), [("fs", "s3"), ("s3", "fs")])
async def test_copy_object_between_backends(
    source_kind: str, target_kind: str, tmp_path: Path, s3_server: S3Server
) -> None:
    video = tmp_path / "video.mp4"
    video.write_bytes(os.urandom(5 * MIB + 1))
    expected = hashlib.sha256(video.read_bytes()).hexdigest()
    async with (
        open_backend(source_kind, tmp_path / "source", s3_server) as source,
        open_backend(target_kind, tmp_path / "target", s3_server) as target,
    ):
        await source.put_file("originals/3/ff/video.mp4", video)
        await source.put_bytes("derived/3/001/1/thumbnail.jpg", b"thumb")
        for key in ("originals/3/ff/video.mp4", "derived/3/001/1/thumbnail.jpg"):
            assert await copy_object(source, target, key, spool_dir=tmp_path / "spool") == await sha256_of(source, key)
        assert await sha256_of(target, "originals/3/ff/video.mp4") == expected
        assert await target.read("derived/3/001/1/thumbnail.jpg") == b"thumb"
        assert await listed(target) == await listed(source)
        with pytest.raises(ObjectMissing):
            await copy_object(source, target, "originals/3/ff/absent.jpg", spool_dir=tmp_path / "spool")
    assert list((tmp_path / "spool").iterdir()) == []  # the spooled copies are gone
