"""The object store: originals, keyframes, derivatives and rejected files, behind one async interface.

Two backends keep the same S3-shaped keys (``originals/<project>/<sha[:2]>/<sha>.jpg``): a directory
(``object_fs``) and an S3-compatible bucket (``object_s3``); ``object_tiers`` puts a hot and a cold one
behind the same interface. Writing the same key twice with the same bytes is harmless, which makes a retried
ingest idempotent. Nothing outside these modules knows where an object's bytes live.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 1 << 20


class ObjectStoreError(Exception):
    """The store refused or failed an operation: unreachable, full, access denied. It says nothing about the
    object itself, so the work waits and retries (the image is not rejected for it)."""


class ObjectMissing(FileNotFoundError):
    """No object under that key (deleted behind our back, or never written). Retrying does not help."""


class BadObjectKey(ValueError):
    """A key that is no relative path (empty, absolute, with ``..``): a bug, never retried."""


def original_key(project_id: int, sha256_hex: str, extension: str) -> str:
    return f"originals/{project_id}/{sha256_hex[:2]}/{sha256_hex}.{extension}"


def keyframe_key(project_id: int, sha256_hex: str, offset_s: float) -> str:
    return f"keyframes/{project_id}/{sha256_hex[:2]}/{sha256_hex}/{int(offset_s * 1000):09d}.jpg"


def rejected_key(reason: str, project_id: int, sha256_hex: str, extension: str) -> str:
    return f"rejected/{reason}/{project_id}/{sha256_hex}.{extension}"


def check_key(key: str) -> str:
    """A key is a relative POSIX path without empty, ``.`` or ``..`` parts: the same on disk and in a bucket."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts) or "\\" in key:
        raise BadObjectKey(f"bad object key {key!r}")
    return key


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int


class ObjectStore(Protocol):
    """What every backend does. Reads raise ``ObjectMissing`` for an absent key; other failures ``ObjectStoreError``."""

    #: where the objects are, for logs and ``addax storage status`` (a directory or ``s3://bucket/prefix``)
    location: str

    async def put_file(self, key: str, source: Path) -> None:
        """Store the file's bytes under ``key``, durably and whole (readers never see half an object)."""

    async def put_bytes(self, key: str, data: bytes) -> None: ...

    async def read(self, key: str) -> bytes:
        """The whole object: for photos and derivatives, not for videos (use ``stream``)."""

    def stream(
        self, key: str, chunk_size: int = CHUNK, *, on_size: Callable[[int], None] | None = None
    ) -> AsyncGenerator[bytes, None]:
        """The object in chunks; ``ObjectMissing`` is raised by the first iteration. ``on_size`` is told the
        object's size before the first chunk, from the same open or request (a Content-Length without a second
        round trip, and without a race against a rewrite between the two)."""

    async def size(self, key: str) -> int: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the object; an absent one is not an error."""

    async def move(self, old_key: str, new_key: str) -> None: ...

    def list(self, prefix: str = "") -> AsyncGenerator[StoredObject, None]:
        """Every object whose key starts with ``prefix``, in key order."""


async def sha256_of(store: ObjectStore, key: str) -> str:
    """The object's SHA-256, streamed (videos are not read into memory)."""
    digest = hashlib.sha256()
    async for chunk in store.stream(key):
        digest.update(chunk)
    return digest.hexdigest()


async def copy_object(source: ObjectStore, target: ObjectStore, key: str, *, spool_dir: Path) -> str:
    """Copy one object between stores through a temporary file (bounded memory); returns its SHA-256.

    The copy is read back and its hash compared, so a caller can delete the source once this returns.
    """
    spool_dir.mkdir(parents=True, exist_ok=True)
    temporary = spool_dir / f".copy-{hashlib.sha256(key.encode()).hexdigest()[:16]}"
    digest = hashlib.sha256()
    try:
        with temporary.open("wb") as writer:
            async for chunk in source.stream(key):
                digest.update(chunk)
                writer.write(chunk)
        await target.put_file(key, temporary)
    finally:
        temporary.unlink(missing_ok=True)
    expected = digest.hexdigest()
    if (stored := await sha256_of(target, key)) != expected:
        raise ObjectStoreError(f"{key}: copy has SHA-256 {stored}, source {expected}")
    return expected
