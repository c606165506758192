"""The tiered store: writes hot, reads hot then cold, demotion verified and idempotent; a cold tier in a bucket."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from addax.store.object_fs import FilesystemObjectStore
from addax.store.object_s3 import S3Location, open_s3_store
from addax.store.object_tiers import TieredObjectStore
from addax.store.objects import ObjectMissing, StoredObject, copy_object, sha256_of
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, S3Server


@pytest.fixture
def tiers(tmp_path: Path) -> TieredObjectStore:
    return TieredObjectStore(hot=FilesystemObjectStore(tmp_path / "hot"), cold=FilesystemObjectStore(tmp_path / "cold"))


async def collect(store: TieredObjectStore, key: str, chunk_size: int = 7) -> bytes:
    return b"".join([chunk async for chunk in store.stream(key, chunk_size)])


async def test_writes_go_hot_and_a_demoted_object_still_reads(tiers: TieredObjectStore, tmp_path: Path) -> None:
    data = os.urandom(100_000)
    await tiers.put_bytes("originals/1/ab/ab.jpg", data)
    assert await tiers.hot.exists("originals/1/ab/ab.jpg") and not await tiers.cold.exists("originals/1/ab/ab.jpg")
    assert await tiers.tier_of("originals/1/ab/ab.jpg") == "hot"

    await tiers.demote("originals/1/ab/ab.jpg", tmp_path / "spool")

    assert await tiers.tier_of("originals/1/ab/ab.jpg") == "cold"
    assert not await tiers.hot.exists("originals/1/ab/ab.jpg")
    assert await tiers.read("originals/1/ab/ab.jpg") == data
    assert await collect(tiers, "originals/1/ab/ab.jpg", 4096) == data
    sizes: list[int] = []
    assert b"".join([chunk async for chunk in tiers.stream("originals/1/ab/ab.jpg", on_size=sizes.append)]) == data
    assert sizes == [len(data)], "the cold tier tells the size; the missing hot one told nothing"
    assert await tiers.size("originals/1/ab/ab.jpg") == len(data)
    assert await tiers.exists("originals/1/ab/ab.jpg")
    assert await sha256_of(tiers, "originals/1/ab/ab.jpg") == hashlib.sha256(data).hexdigest()
    assert list((tmp_path / "spool").iterdir()) == []  # the copy's temporary file is gone


async def test_demote_is_idempotent_and_finishes_an_interrupted_one(tiers: TieredObjectStore, tmp_path: Path) -> None:
    await tiers.put_bytes("a/one", b"one")
    await tiers.demote("a/one", tmp_path)
    await tiers.demote("a/one", tmp_path)  # already cold: nothing to do
    assert await tiers.tier_of("a/one") == "cold" and await tiers.read("a/one") == b"one"

    await tiers.put_bytes("a/two", b"two")
    await copy_object(tiers.hot, tiers.cold, "a/two", spool_dir=tmp_path)  # a crash before the hot delete
    assert await tiers.hot.exists("a/two") and await tiers.cold.exists("a/two")
    await tiers.demote("a/two", tmp_path)
    assert await tiers.tier_of("a/two") == "cold" and await tiers.read("a/two") == b"two"

    with pytest.raises(ObjectMissing, match="in neither tier"):
        await tiers.demote("a/never", tmp_path)
    assert await tiers.tier_of("a/never") is None


async def test_missing_everywhere_reads_as_missing(tiers: TieredObjectStore) -> None:
    with pytest.raises(ObjectMissing):
        await tiers.read("no/such")
    with pytest.raises(ObjectMissing):
        await collect(tiers, "no/such")
    with pytest.raises(ObjectMissing):
        await tiers.size("no/such")
    with pytest.raises(ObjectMissing):
        await tiers.move("no/such", "no/other")
    assert not await tiers.exists("no/such")
    await tiers.delete("no/such")  # absent is fine


async def test_list_merges_both_tiers_in_key_order(tiers: TieredObjectStore, tmp_path: Path) -> None:
    for key in ("p/a", "p/c", "p/e", "q/z"):
        await tiers.put_bytes(key, key.encode())
    await tiers.cold.put_bytes("p/b", b"bb")
    await tiers.cold.put_bytes("p/d", b"dddd")
    await copy_object(tiers.hot, tiers.cold, "p/c", spool_dir=tmp_path)  # in both: listed once
    await tiers.demote("p/e", tmp_path)

    listed = [item async for item in tiers.list("p/")]

    assert listed == [StoredObject("p/a", 3), StoredObject("p/b", 2), StoredObject("p/c", 3),
                      StoredObject("p/d", 4), StoredObject("p/e", 3)]  # fmt: skip
    assert [item.key async for item in tiers.list()] == ["p/a", "p/b", "p/c", "p/d", "p/e", "q/z"]


async def test_delete_and_move_reach_both_tiers(tiers: TieredObjectStore, tmp_path: Path) -> None:
    await tiers.put_bytes("m/hot", b"h")
    await tiers.put_bytes("m/cold", b"c")
    await tiers.demote("m/cold", tmp_path)
    await tiers.put_bytes("m/both", b"b")
    await copy_object(tiers.hot, tiers.cold, "m/both", spool_dir=tmp_path)

    await tiers.move("m/hot", "n/hot")
    await tiers.move("m/cold", "n/cold")
    await tiers.move("m/both", "n/both")

    assert [await tiers.tier_of(key) for key in ("n/hot", "n/cold", "n/both")] == ["hot", "cold", "hot"]
    assert [item.key async for item in tiers.list("m/")] == []
    await tiers.delete("n/both")
    await tiers.delete("n/cold")
    assert [item.key async for item in tiers.list()] == ["n/hot"]
    assert tiers.location == f"{tiers.hot.location} + {tiers.cold.location}"


async def test_a_cold_tier_in_a_bucket_prefix(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    location = S3Location(
        endpoint_url=s3_server.endpoint_url,
        bucket=bucket,
        prefix="archive/cold",
        access_key=ACCESS_KEY,
        secret_key=SECRET_KEY,
        region=REGION,
    )
    data = os.urandom(300_000)
    async with open_s3_store(location) as cold:
        tiers = TieredObjectStore(hot=FilesystemObjectStore(tmp_path / "hot"), cold=cold)
        await tiers.put_bytes("originals/7/cd/cd.jpg", data)
        await tiers.demote("originals/7/cd/cd.jpg", tmp_path / "spool")

        assert not (tmp_path / "hot" / "originals/7/cd/cd.jpg").exists()
        assert await tiers.tier_of("originals/7/cd/cd.jpg") == "cold"
        assert await collect(tiers, "originals/7/cd/cd.jpg", 65536) == data
        assert await sha256_of(tiers, "originals/7/cd/cd.jpg") == hashlib.sha256(data).hexdigest()
    behind = s3_server.client().get_object(Bucket=bucket, Key="archive/cold/originals/7/cd/cd.jpg")["Body"].read()
    assert hashlib.sha256(behind).digest() == hashlib.sha256(data).digest()
