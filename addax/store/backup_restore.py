"""Reading a backup back: the dump and every object, each checked against the SHA-256 the backup recorded.

Nothing is trusted half-way: a damaged or missing piece is an error naming it, and the caller empties the
fresh data dir it was filling (see ``empty_directory``). ``verify`` reads the same pieces and writes nothing: it
finds every damaged or missing one (and keeps the first KEPT_PROBLEMS messages), so an operator learns a backup
is bad before the day they need it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from addax.store.backups import (
    BATCH,
    DUMP,
    MANIFEST,
    BackupError,
    BackupInfo,
    ManifestEntry,
    all_of,
    digest_stream,
    parse_entry,
    pool_key,
    spool_stream,
)
from addax.store.objects import ObjectMissing, ObjectStore

IN_MEMORY = 8 << 20  # objects up to this size are checked in memory; larger ones through a local file


@dataclass(frozen=True, slots=True)
class RestoredObjects:
    count: int
    bytes: int


async def fetch_dump(target: ObjectStore, info: BackupInfo, path: Path) -> None:
    """Copy the backup's dump to ``path`` and check its SHA-256."""
    try:
        _, sha256 = await spool_stream(target.stream(f"{info.name}/{DUMP}"), path)
    except ObjectMissing:
        raise BackupError(
            f"backup {info.name}: {DUMP} is missing from {target.location}; restore another backup"
        ) from None
    if sha256 != info.dump_sha256:
        raise BackupError(
            f"backup {info.name}: {DUMP} has SHA-256 {sha256}, backup.json says {info.dump_sha256}: "
            "the backup is damaged; restore another backup"
        )


async def restore_objects(target: ObjectStore, info: BackupInfo, into: ObjectStore, work: Path) -> RestoredObjects:
    """Put every object of the manifest into ``into`` under its own key, each after its SHA-256 is checked."""
    count = total = 0
    async with contextlib.aclosing(_manifest(target, info, work)) as batches:
        async for batch in batches:
            spools = [work / f"object-{n}" for n in range(len(batch))]
            await all_of([_restore_one(target, into, entry, spool) for entry, spool in zip(batch, spools, strict=True)])
            count += len(batch)
            total += sum(entry.size for entry in batch)
    return RestoredObjects(count, total)


@dataclass(frozen=True, slots=True)
class Verification:
    objects: RestoredObjects  # what the manifest lists
    problem_count: int = 0  # damaged or missing pieces; 0: the backup is whole
    problems: list[str] = field(default_factory=list)  # the first KEPT_PROBLEMS of them, in manifest order


KEPT_PROBLEMS = 1000  # a backup whose every copy is gone must not fill memory with its messages


async def verify(target: ObjectStore, info: BackupInfo, work: Path, *, keep: int = KEPT_PROBLEMS) -> Verification:
    """Read the dump and every object's copy, check each SHA-256 and size, and count what is wrong, keeping the
    first ``keep`` messages; nothing is written but the manifest, spooled into ``work``. A manifest that cannot be
    read ends it (BackupError)."""
    problems: list[str] = []
    try:
        size, sha256 = await digest_stream(target.stream(f"{info.name}/{DUMP}"))
        if (size, sha256) != (info.dump_bytes, info.dump_sha256):
            problems.append(
                f"{DUMP}: SHA-256 {sha256} ({size} bytes), backup.json says {info.dump_sha256} "
                f"({info.dump_bytes} bytes)"
            )
    except ObjectMissing:
        problems.append(f"{DUMP}: missing from {target.location}")
    problem_count = len(problems)
    count = total = 0
    async with contextlib.aclosing(_manifest(target, info, work)) as batches:
        async for batch in batches:
            found = [problem for problem in await all_of([_check(target, entry) for entry in batch]) if problem]
            problem_count += len(found)
            problems += found[: max(0, keep - len(problems))]
            count += len(batch)
            total += sum(entry.size for entry in batch)
    return Verification(RestoredObjects(count, total), problem_count, problems)


async def _manifest(target: ObjectStore, info: BackupInfo, work: Path) -> AsyncGenerator[list[ManifestEntry], None]:
    """The manifest's entries, BATCH at a time, after its SHA-256 and then its length are checked."""
    manifest = work / MANIFEST
    try:
        _, sha256 = await spool_stream(target.stream(f"{info.name}/{MANIFEST}"), manifest)
    except ObjectMissing:
        raise BackupError(f"backup {info.name}: {MANIFEST} is missing from {target.location}") from None
    if sha256 != info.manifest_sha256:
        raise BackupError(
            f"backup {info.name}: {MANIFEST} has SHA-256 {sha256}, backup.json says {info.manifest_sha256}"
        )
    count = 0
    with manifest.open("rb") as lines:
        while batch := [parse_entry(info.name, line) for line in _lines(lines, BATCH)]:
            count += len(batch)
            yield batch
    if count != info.object_count:
        raise BackupError(f"backup {info.name}: the manifest lists {count} objects, backup.json {info.object_count}")


def _lines(reader: BinaryIO, count: int) -> list[bytes]:
    lines = []
    for _ in range(count):
        line = reader.readline()
        if not line.strip():
            break
        lines.append(line)
    return lines


async def _check(target: ObjectStore, entry: ManifestEntry) -> str | None:
    """What is wrong with the entry's copy, None when it holds the bytes the manifest says."""
    copy = pool_key(entry.sha256)
    try:
        size, sha256 = await digest_stream(target.stream(copy))
    except ObjectMissing:
        return _missing(target, entry)
    return _damaged(entry, size, sha256)


def _missing(target: ObjectStore, entry: ManifestEntry) -> str:
    return f"{entry.key}: its copy {pool_key(entry.sha256)} is missing from the backup in {target.location}"


def _damaged(entry: ManifestEntry, size: int, sha256: str) -> str | None:
    if sha256 == entry.sha256 and size == entry.size:
        return None
    return (
        f"{entry.key}: the backup's copy {pool_key(entry.sha256)} has SHA-256 {sha256} ({size} bytes), the manifest "
        f"says {entry.sha256} ({entry.size} bytes): the backup is damaged"
    )


async def _restore_one(target: ObjectStore, into: ObjectStore, entry: ManifestEntry, spool: Path) -> None:
    copy = pool_key(entry.sha256)
    try:
        if entry.size <= IN_MEMORY:
            data = await target.read(copy)
            size, sha256 = len(data), hashlib.sha256(data).hexdigest()
        else:
            size, sha256 = await spool_stream(target.stream(copy), spool)
    except ObjectMissing:
        raise BackupError(_missing(target, entry)) from None
    try:
        if problem := _damaged(entry, size, sha256):
            raise BackupError(problem)
        if entry.size <= IN_MEMORY:
            await into.put_bytes(entry.key, data)
        else:
            await into.put_file(entry.key, spool)
    finally:
        spool.unlink(missing_ok=True)


def is_empty_directory(directory: Path) -> bool:
    """Absent, or a directory with nothing in it."""
    if not directory.exists():
        return True
    return directory.is_dir() and next(directory.iterdir(), None) is None


def empty_directory(directory: Path) -> None:
    """Remove everything in ``directory`` (it was empty before a restore that failed)."""
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
