"""``addax storage migrate --to s3``: copy the filesystem object store into the configured bucket.

Resumable: an object already in the bucket with the same size and SHA-256 is left alone, so running the command
again after an interruption copies only what is missing or different. Every copied object's hash is checked in
the bucket (the checksum the server verified, or the bucket's bytes read back). The local files are kept: the
operator switches ``storage.backend`` to ``s3`` and restarts, and deletes data_dir/objects when satisfied.
The database is not needed: keys are the same in both stores. Objects the service writes meanwhile are copied
by the next run: stop ``addax run``, run the command once more, then switch.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from addax.config import Config
from addax.object_storage import objects_dir, s3_location
from addax.store.object_fs import FilesystemObjectStore
from addax.store.objects import ObjectMissing, ObjectStore, ObjectStoreError, StoredObject, sha256_of

if TYPE_CHECKING:
    from addax.store.object_s3 import S3ObjectStore

IN_FLIGHT = 4  # objects copied at once
SHOWN_FAILURES = 50


class StorageCommandError(Exception):
    """Why a storage command could not start (no store to migrate, no bucket configured, bucket unreachable)."""


def add_commands(commands: Any) -> Any:
    """``addax storage ...`` on the ``addax`` parser's subcommands; returns them for more actions."""
    storage = commands.add_parser("storage", help="the object store").add_subparsers(dest="action", required=True)
    migrate = storage.add_parser(
        "migrate", help="copy data_dir/objects into the storage.s3 bucket (resumable, hashes verified, keeps the files)"
    )
    migrate.add_argument("--to", required=True, choices=["s3"], help="the target: the bucket of [storage.s3]")
    return storage


async def command(args: argparse.Namespace, settings: Config) -> int:
    return await migrate_to_s3(settings)


@dataclass
class Migration:
    """What a migration did, object by object."""

    counts: Counter[str] = field(default_factory=Counter)
    copied_bytes: int = 0
    failures: list[str] = field(default_factory=list)


async def migrate_to_s3(settings: Config) -> int:
    directory = objects_dir(settings)
    if not directory.is_dir():
        raise StorageCommandError(f"no filesystem object store at {directory}: nothing to migrate")
    if not settings.storage.s3.bucket:
        raise StorageCommandError("storage.s3.bucket is not set: name the bucket to migrate into")
    from addax.store.object_s3 import open_s3_store  # aioboto3 loads only for a bucket

    source = FilesystemObjectStore(directory)
    try:
        async with open_s3_store(s3_location(settings)) as target:
            with tempfile.TemporaryDirectory(dir=settings.data_path, prefix=".migrate-") as spool:
                done = await migrate(source, target, spool_dir=Path(spool))
    except ObjectStoreError as error:
        raise StorageCommandError(f"cannot migrate to the bucket: {error}") from None
    return report(done, source, target, settings)


async def migrate(source: ObjectStore, target: S3ObjectStore, *, spool_dir: Path) -> Migration:
    """Copy every object of ``source`` that ``target`` lacks or holds different, a few at a time."""
    total = 0
    async for item in source.list():
        total += item.size
    done = Migration()
    slots = asyncio.Semaphore(IN_FLIGHT)
    with tqdm(total=total, unit="B", unit_scale=True, desc="migrating", file=sys.stderr) as progress:

        async def one(item: StoredObject) -> None:
            try:
                outcome = await _migrate_one(source, target, item, spool_dir)
                done.counts[outcome] += 1
                if outcome == "copied":
                    done.copied_bytes += item.size
            except (ObjectStoreError, OSError) as error:  # (a full disk under the spooled copy)
                done.counts["failed"] += 1
                done.failures.append(f"{item.key}: {error}")
            finally:
                progress.update(item.size)
                slots.release()

        async with asyncio.TaskGroup() as group:
            async for item in source.list():
                await slots.acquire()
                group.create_task(one(item))
    done.failures.sort()
    return done


async def _migrate_one(source: ObjectStore, target: S3ObjectStore, item: StoredObject, spool_dir: Path) -> str:
    """``copied`` or ``there`` (the bucket already holds these bytes)."""
    try:
        there = await target.size(item.key) == item.size
    except ObjectMissing:
        there = False
    if there and await _bucket_sha256(target, item.key) == await sha256_of(source, item.key):
        return "there"
    expected = await _spool_and_put(source, target, item.key, spool_dir)
    if (stored := await _bucket_sha256(target, item.key)) != expected:
        raise ObjectStoreError(f"the bucket's copy has SHA-256 {stored}, the local file {expected}")
    return "copied"


async def _bucket_sha256(target: S3ObjectStore, key: str) -> str:
    """The checksum the server verified when it has one, else the bucket's bytes read back."""
    return await target.stored_sha256(key) or await sha256_of(target, key)


async def _spool_and_put(source: ObjectStore, target: ObjectStore, key: str, spool_dir: Path) -> str:
    """Upload through a spooled copy (the source is read once, in chunks); returns its SHA-256."""
    spooled = spool_dir / hashlib.sha256(key.encode()).hexdigest()
    digest = hashlib.sha256()
    try:
        with spooled.open("wb") as writer:
            async for chunk in source.stream(key):
                digest.update(chunk)
                await asyncio.to_thread(writer.write, chunk)
        await target.put_file(key, spooled)
    finally:
        spooled.unlink(missing_ok=True)
    return digest.hexdigest()


def report(done: Migration, source: ObjectStore, target: ObjectStore, settings: Config) -> int:
    print(
        f"copied {done.counts['copied']} object(s) ({done.copied_bytes} bytes) from {source.location} to "
        f"{target.location}; {done.counts['there']} already there; {done.counts['failed']} failed"
    )
    if done.failures:
        for line in done.failures[:SHOWN_FAILURES]:
            print(f"addax: failed: {line}", file=sys.stderr)
        if len(done.failures) > SHOWN_FAILURES:
            print(f"addax: ... and {len(done.failures) - SHOWN_FAILURES} more failures", file=sys.stderr)
        print("addax: run the same command again to retry what failed", file=sys.stderr)
        return 1
    switch = "" if settings.storage.backend == "s3" else 'set storage.backend = "s3" (ADDAX_STORAGE_BACKEND=s3) and '
    print(f"every object is in the bucket, hash verified; {switch}restart addax.")
    print(f"The local files in {source.location} are kept: delete them once the service runs from the bucket.")
    return 0
