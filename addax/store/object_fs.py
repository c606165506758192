"""The object store in a directory: one file per key, written to a temporary file, fsynced, then renamed.

Errors say whose they are. An absent key is ``ObjectMissing``; any other failure on the store's own files (denied,
EIO, a file where a directory belongs, a full disk) is ``ObjectStoreError``: the store is in trouble and the work
waits. A failure reading the *source* of ``put_file`` (a spool file) stays the plain ``OSError`` it is: the
caller counts it against that file.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import os
import stat
import tempfile
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from addax.store.objects import CHUNK, ObjectMissing, ObjectStoreError, StoredObject, check_key

TORN_AFTER_S = 3600  # a temporary file this old belongs to no live writer


class _SourceFailed(Exception):
    """Carries an error of put_file's source out of the write, so that it is not taken for the store's."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


@contextlib.contextmanager
def _the_store(key: str, doing: str, *, missing: bool = True) -> Iterator[None]:
    """An OSError on the store's files as ours: ``ObjectMissing`` for an absent key, else ``ObjectStoreError``."""
    try:
        yield
    except FileNotFoundError as error:
        if not missing:
            raise ObjectStoreError(f"{key}: cannot {doing}: {error.strerror or error}") from error
        raise ObjectMissing(key) from error
    except OSError as error:
        raise ObjectStoreError(f"{key}: cannot {doing}: {error.strerror or error} ({error.filename})") from error


class FilesystemObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.location = str(root)
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    async def exists(self, key: str) -> bool:
        def is_file() -> bool:
            try:
                return stat.S_ISREG(self._path(key).stat().st_mode)
            except FileNotFoundError:
                return False

        with _the_store(key, "check it"):
            return await asyncio.to_thread(is_file)

    async def put_file(self, key: str, source: Path) -> None:
        reader = await asyncio.to_thread(source.open, "rb")  # a source that cannot be opened: plain OSError

        def copy(writer: BinaryIO) -> None:
            while True:
                try:
                    chunk = reader.read(CHUNK)
                except OSError as error:
                    raise _SourceFailed(error) from error
                if not chunk:
                    return
                writer.write(chunk)

        try:
            await asyncio.to_thread(self._write, key, copy)
        except _SourceFailed as failed:
            raise failed.error from None
        finally:
            reader.close()

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
        except OSError as error:
            Path(temporary).unlink(missing_ok=True)
            raise ObjectStoreError(f"{key}: cannot write in {target.parent}: {error.strerror or error}") from error
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
            source, target = self._path(old_key), self._path(new_key)
            with _the_store(new_key, "make its directory", missing=False):
                target.parent.mkdir(parents=True, exist_ok=True)
            with _the_store(old_key, f"move it to {new_key}"):
                source.rename(target)

        await asyncio.to_thread(rename)

    async def read(self, key: str) -> bytes:
        with _the_store(key, "read it"):
            return await asyncio.to_thread(self._path(key).read_bytes)

    async def stream(
        self, key: str, chunk_size: int = CHUNK, *, on_size: Callable[[int], None] | None = None
    ) -> AsyncGenerator[bytes, None]:
        with _the_store(key, "read it"):
            reader = await asyncio.to_thread(self._path(key).open, "rb")
        try:
            if on_size is not None:
                on_size(os.fstat(reader.fileno()).st_size)  # the file opened, even if the key is rewritten now
            while True:
                with _the_store(key, "read it", missing=False):
                    chunk = await asyncio.to_thread(reader.read, chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            reader.close()

    async def size(self, key: str) -> int:
        with _the_store(key, "stat it"):
            return (await asyncio.to_thread(self._path(key).stat)).st_size

    async def delete(self, key: str) -> None:
        with _the_store(key, "delete it"):
            await asyncio.to_thread(self._path(key).unlink, True)

    async def list(self, prefix: str = "") -> AsyncGenerator[StoredObject, None]:
        with _the_store(prefix or "/", "list it", missing=False):
            found = await asyncio.to_thread(self._walk, prefix)
        for item in found:
            yield item

    def _walk(self, prefix: str) -> builtins.list[StoredObject]:
        # Only the directory the prefix names is walked, not the whole store.
        start = self.root.joinpath(*prefix.rsplit("/", 1)[0].split("/")) if "/" in prefix else self.root
        found = []

        def unlistable(error: OSError) -> None:
            # os.walk skips what it cannot read: a listing that silently misses objects would make a backup lie
            if not isinstance(error, (FileNotFoundError, NotADirectoryError)):  # those: nothing under the prefix
                raise error

        for directory, folders, files in os.walk(start, onerror=unlistable):
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
