"""The object store in a directory: one file per key, written to a temporary file, fsynced, then renamed."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import BinaryIO

from addax.store.objects import CHUNK, ObjectMissing, ObjectStoreError, StoredObject, check_key

TORN_AFTER_S = 3600  # a temporary file this old belongs to no live writer


class FilesystemObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def put_file(self, key: str, source: Path) -> None:
        def copy(writer: BinaryIO) -> None:
            with source.open("rb") as reader:
                shutil.copyfileobj(reader, writer, CHUNK)

        await asyncio.to_thread(self._write, key, copy)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, key, lambda writer: writer.write(data))

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        """Write to a temporary file of our own, fsync, then rename: readers never see half an object."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        except OSError as error:
            raise ObjectStoreError(f"{key}: cannot write in {target.parent}: {error.strerror or error}") from error
        try:
            with os.fdopen(descriptor, "wb") as writer:
                fill(writer)
                writer.flush()
                os.fsync(writer.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        # Left by a crash during an earlier attempt; a recent one may be a concurrent writer's (the same bytes
        # arriving twice at once), whose rename must not fail.
        stale = time.time() - TORN_AFTER_S
        for torn in target.parent.glob(f".{target.name}.*"):
            with contextlib.suppress(FileNotFoundError):
                if torn.stat().st_mtime < stale:
                    torn.unlink()

    async def move(self, old_key: str, new_key: str) -> None:
        def rename() -> None:
            target = self._path(new_key)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._path(old_key).rename(target)
            except FileNotFoundError as error:
                raise ObjectMissing(old_key) from error

        await asyncio.to_thread(rename)

    async def read(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self._path(key).read_bytes)
        except FileNotFoundError as error:
            raise ObjectMissing(key) from error

    async def stream(self, key: str, chunk_size: int = CHUNK) -> AsyncGenerator[bytes, None]:
        try:
            reader = await asyncio.to_thread(self._path(key).open, "rb")
        except FileNotFoundError as error:
            raise ObjectMissing(key) from error
        try:
            while chunk := await asyncio.to_thread(reader.read, chunk_size):
                yield chunk
        finally:
            reader.close()

    async def size(self, key: str) -> int:
        try:
            return (await asyncio.to_thread(self._path(key).stat)).st_size
        except FileNotFoundError as error:
            raise ObjectMissing(key) from error

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def list(self, prefix: str = "") -> AsyncGenerator[StoredObject, None]:
        found = await asyncio.to_thread(self._walk, prefix)
        for item in found:
            yield item

    def _walk(self, prefix: str) -> builtins.list[StoredObject]:
        # Only the directory the prefix names is walked, not the whole store.
        start = self.root.joinpath(*prefix.rsplit("/", 1)[0].split("/")) if "/" in prefix else self.root
        found = []
        for directory, folders, files in os.walk(start):
            folders.sort()
            for name in files:
                if name.startswith("."):
                    continue  # a write in progress
                path = Path(directory, name)
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    with contextlib.suppress(FileNotFoundError):
                        found.append(StoredObject(key, path.stat().st_size))
        found.sort(key=lambda item: item.key)
        return found
