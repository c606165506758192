"""The object store for originals and rejected files. Filesystem now; keys are S3-shaped.

Keys look like ``originals/<project>/<sha[:2]>/<sha>.jpg``; writing the same key twice with the
same bytes is harmless, which makes a retried ingest idempotent.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import BinaryIO

TORN_AFTER_S = 3600  # a temporary file this old belongs to no live writer


class ObjectStoreError(Exception):
    pass


def original_key(project_id: int, sha256_hex: str, extension: str) -> str:
    return f"originals/{project_id}/{sha256_hex[:2]}/{sha256_hex}.{extension}"


def keyframe_key(project_id: int, sha256_hex: str, offset_s: float) -> str:
    return f"keyframes/{project_id}/{sha256_hex[:2]}/{sha256_hex}/{int(offset_s * 1000):09d}.jpg"


def rejected_key(reason: str, project_id: int, sha256_hex: str, extension: str) -> str:
    return f"rejected/{reason}/{project_id}/{sha256_hex}.{extension}"


class FilesystemObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ObjectStoreError(f"bad object key {key!r}")
        return self.root.joinpath(*relative.parts)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def put_file(self, key: str, source: Path) -> None:
        """Copy ``source`` under ``key`` durably."""
        with source.open("rb") as reader:
            self._write(key, lambda writer: shutil.copyfileobj(reader, writer, 1 << 20))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(key, lambda writer: writer.write(data))

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        """Write to a temporary file of our own, fsync, then rename: readers never see half an object."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
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

    def move(self, old_key: str, new_key: str) -> None:
        target = self.path(new_key)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path(old_key).rename(target)

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def open(self, key: str) -> BinaryIO:
        """The object for reading in blocks (FileNotFoundError when it is missing)."""
        return self.path(key).open("rb")

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def copy_to(self, key: str, writer: BinaryIO) -> None:
        with self.open(key) as reader:
            shutil.copyfileobj(reader, writer, 1 << 20)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
