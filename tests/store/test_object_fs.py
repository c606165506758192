"""The directory store's errors say whose they are: an absent key is ObjectMissing, trouble with the store's own
files is ObjectStoreError (the work waits), and trouble with put_file's source stays a plain OSError (the caller
counts it against that file). Real conditions on disk: as root nothing is denied, so a file standing where the store
needs a directory (ENOTDIR, EEXIST, EISDIR) plays the broken store, and the denied cases run only as another user."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from addax.store.object_fs import FilesystemObjectStore
from addax.store.objects import ObjectMissing, ObjectStoreError

KEY = "originals/1/ab/photo.jpg"


@pytest.fixture
async def store(tmp_path: Path) -> FilesystemObjectStore:
    store = FilesystemObjectStore(tmp_path / "objects")
    await store.put_bytes(KEY, b"photo")
    return store


def break_directory(store: FilesystemObjectStore, relative: str) -> None:
    """Put a file where the store keeps a directory: every path through it fails with ENOTDIR."""
    directory = store.root / relative
    for child in directory.iterdir():
        child.unlink()
    directory.rmdir()
    directory.write_bytes(b"not a directory")


async def test_reading_through_a_broken_store_is_the_stores_error_not_a_missing_object(
    store: FilesystemObjectStore,
) -> None:
    break_directory(store, "originals/1/ab")
    for attempt in (store.read(KEY), store.size(KEY), store.exists(KEY), store.delete(KEY)):
        with pytest.raises(ObjectStoreError, match=r"photo\.jpg: cannot"):
            await attempt
    with pytest.raises(ObjectStoreError):
        async for _ in store.stream(KEY):
            pass
    with pytest.raises(ObjectStoreError):
        await store.move(KEY, "rejected/x/1/photo.jpg")


async def test_an_absent_key_is_still_object_missing(store: FilesystemObjectStore) -> None:
    gone = "originals/1/ab/gone.jpg"
    for attempt in (store.read(gone), store.size(gone)):
        with pytest.raises(ObjectMissing):
            await attempt
    with pytest.raises(ObjectMissing):
        async for _ in store.stream(gone):
            pass
    with pytest.raises(ObjectMissing):
        await store.move(gone, "originals/1/ab/other.jpg")
    assert not await store.exists(gone) and not await store.exists("nowhere/at/all.jpg")
    await store.delete(gone)  # absent: fine
    assert [item.key async for item in store.list("nowhere/")] == []


async def test_writing_into_a_broken_store_is_the_stores_error(store: FilesystemObjectStore, tmp_path: Path) -> None:
    (store.root / "derived").write_bytes(b"a file where the derivatives' directory belongs")
    with pytest.raises(ObjectStoreError, match="cannot write"):
        await store.put_bytes("derived/1/001/1/thumbnail.jpg", b"thumb")
    (store.root / "originals/1/cd/photo.jpg").mkdir(parents=True)  # a directory where the object belongs
    spool = tmp_path / "spool.jpg"
    spool.write_bytes(b"photo")
    with pytest.raises(ObjectStoreError, match="cannot write"):
        await store.put_file("originals/1/cd/photo.jpg", spool)
    assert [p.name for p in (store.root / "originals/1/cd").iterdir()] == ["photo.jpg"], "no temporary file left"


async def test_a_bad_source_file_stays_a_plain_os_error(store: FilesystemObjectStore, tmp_path: Path) -> None:
    with pytest.raises(OSError) as absent:
        await store.put_file("originals/1/ef/new.jpg", tmp_path / "no-such-spool.jpg")
    assert not isinstance(absent.value, (ObjectStoreError, ObjectMissing))
    with pytest.raises(OSError) as directory:
        await store.put_file("originals/1/ef/new.jpg", tmp_path)
    assert not isinstance(directory.value, ObjectStoreError)
    # /proc/self/mem opens, and reading its first page fails with EIO: a source that breaks half-way
    with pytest.raises(OSError) as broken:
        await store.put_file("originals/1/ef/new.jpg", Path("/proc/self/mem"))
    assert not isinstance(broken.value, ObjectStoreError) and broken.value.errno == 5
    assert not await store.exists("originals/1/ef/new.jpg")
    assert not [p for p in (store.root / "originals/1/ef").iterdir()], "no temporary file left"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes through any permission: nothing is denied")
async def test_a_denied_store_is_the_stores_error(store: FilesystemObjectStore) -> None:
    (store.root / "originals/1/ab").chmod(0)
    try:
        with pytest.raises(ObjectStoreError):
            await store.read(KEY)
        with pytest.raises(ObjectStoreError):
            await store.put_bytes("originals/1/ab/other.jpg", b"x")
        with pytest.raises(ObjectStoreError, match="list"):
            [item async for item in store.list("originals/")]
    finally:
        (store.root / "originals/1/ab").chmod(0o700)
