"""Backups: a PostgreSQL dump and every object, in a backup target (a directory or a bucket).

The target holds one prefix per backup, named by its UTC start time, and one shared pool of object copies,
content-addressed, so an object that did not change is copied once however many backups list it::

    2026-11-29T02-30-00Z/database.dump     pg_dump -Fc (a consistent snapshot)
    2026-11-29T02-30-00Z/manifest.jsonl    {"key", "size", "sha256"} per object, in key order
    2026-11-29T02-30-00Z/backup.json       what the backup holds; written last: without it, no backup
    objects/ab/ab12…                       the bytes of every object with SHA-256 ab12…

Objects are listed after the dump has finished, so every object the dump refers to is in the manifest
(a later one may be too: harmless). Each manifest line is the SHA-256 of the bytes read, not of a column.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO, TypeVar
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import asyncpg

from addax.domain.backup_rotation import abandoned, backup_name, backup_time, rotate
from addax.runtime.process import spawn, terminate
from addax.store.objects import CHUNK, BadObjectKey, ObjectMissing, ObjectStore, check_key

log = logging.getLogger("addax.backups")

T = TypeVar("T")

FORMAT = 1
POOL = "objects/"
DUMP, MANIFEST, INFO = "database.dump", "manifest.jsonl", "backup.json"
HEX = "0123456789abcdef"
BATCH = 16  # objects hashed at once: a bucket answers each read after a round trip


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message names what and whether a retry helps."""


def pool_key(sha256_hex: str) -> str:
    return f"{POOL}{sha256_hex[:2]}/{sha256_hex}"


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    key: str
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class BackupInfo:
    """The contents of ``backup.json``."""

    name: str
    created_at: str  # ISO 8601, UTC: when the dump started
    finished_at: str
    addax_version: str
    migration: int  # the last migration applied to the database backed up
    database_bytes: int  # pg_database_size at the start
    dump_bytes: int
    dump_sha256: str
    manifest_sha256: str
    object_count: int
    object_bytes: int
    copied_count: int  # objects this backup added to the pool (the others were there already)
    copied_bytes: int
    vanished: int  # listed, then deleted before they could be read (retention, a re-derived thumbnail)
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, name: str, data: bytes) -> BackupInfo:
        try:
            fields = json.loads(data)
            info = cls(**fields)
        except (ValueError, TypeError) as error:
            raise BackupError(f"backup {name}: {INFO} is not a backup description ({error})") from None
        if info.format != FORMAT or info.name != name:
            raise BackupError(f"backup {name}: {INFO} is of format {info.format} for {info.name!r}; expected {FORMAT}")
        return info


@dataclass(frozen=True, slots=True)
class RotationReport:
    deleted: tuple[str, ...]
    abandoned: tuple[str, ...]
    pool_deleted: int  # object copies no kept backup lists any more
    pool_kept: int


async def make_backup(
    *,
    dsn: str,
    objects: ObjectStore,
    target: ObjectStore,
    pg_dump: Path,
    work_dir: Path,
    version: str,
    now: datetime | None = None,
) -> BackupInfo:
    """Dump the database, then copy every object not yet in the target's pool; publish ``backup.json`` last."""
    started = now or datetime.now(UTC)
    name = backup_name(started)
    if await target.exists(f"{name}/{INFO}"):
        raise BackupError(f"a backup named {name} exists already in {target.location}; try again in a second")
    work = private_directory(work_dir / f"backup-{name}")
    try:
        migration, database_bytes = await database_facts(dsn)
        dump = work / DUMP
        await run_tool([str(pg_dump), "--format=custom", "--file", str(dump)], dsn=dsn, what="pg_dump")
        dump_bytes, dump_sha256 = await asyncio.to_thread(file_digest, dump)
        await target.put_file(f"{name}/{DUMP}", dump)
        dump.unlink()
        manifest = work / MANIFEST
        tally = await _back_up_objects(objects, target, manifest, work)
        _, manifest_sha256 = await asyncio.to_thread(file_digest, manifest)
        await target.put_file(f"{name}/{MANIFEST}", manifest)
        info = BackupInfo(
            name=name,
            created_at=started.astimezone(UTC).isoformat(),
            finished_at=datetime.now(UTC).isoformat(),
            addax_version=version,
            migration=migration,
            database_bytes=database_bytes,
            dump_bytes=dump_bytes,
            dump_sha256=dump_sha256,
            manifest_sha256=manifest_sha256,
            **asdict(tally),
        )
        await target.put_bytes(f"{name}/{INFO}", info.to_json())
    except BaseException:
        await _forget(target, name)
        raise
    finally:
        await asyncio.to_thread(shutil.rmtree, work, True)
    log.info("backup made", extra={"backup": name, "target": target.location, "objects": info.object_count})
    return info


async def _forget(target: ObjectStore, name: str) -> None:
    """Take a failed backup's pieces back now, so that rotations need not wait a day to collect its copies
    (best effort: what is left is an unfinished backup, deleted by the rotation a day later)."""
    for piece in (INFO, MANIFEST, DUMP):
        with contextlib.suppress(Exception):
            await target.delete(f"{name}/{piece}")


async def database_facts(dsn: str) -> tuple[int, int]:
    """The database's migration level and its size in bytes."""
    connection = await asyncpg.connect(dsn)
    try:
        migration = await connection.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
        size = await connection.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await connection.close()
    return int(migration), int(size)


async def database_is_empty(dsn: str) -> bool:
    """No table, view or sequence of anyone's but an extension's (PostGIS brings spatial_ref_sys)."""
    connection = await asyncpg.connect(dsn)
    try:
        count = await connection.fetchval(
            """SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                 AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
                 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                 AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                 AND d.objid = c.oid AND d.deptype = 'e')"""
        )
    finally:
        await connection.close()
    return int(count) == 0


def private_directory(path: Path) -> Path:
    """``path`` (and its parents) made, the last two readable by this user only: a dump in it holds the
    accounts' password hashes, and the data dir above lets others pass through (0711)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    for directory in (path.parent, path):
        directory.chmod(0o700)
    return path


def without_password(dsn: str) -> tuple[str, str | None]:
    """The DSN without its password, and the password: a program's command line is public (``ps``), so
    pg_dump and pg_restore get the password in PGPASSWORD instead."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgresql", "postgres"):
        return dsn, None
    password = None
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if ":" in userinfo:
        user, _, secret = userinfo.partition(":")
        password = unquote(secret)
        userinfo = user
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "password" for key, _ in query):
        password = password or next(value for key, value in query if key == "password")
        query = [(key, value) for key, value in query if key != "password"]
        parts = parts._replace(query=urlencode(query))
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{hostport}")), password


async def run_tool(argv: list[str], *, dsn: str, what: str) -> None:
    """Run a PostgreSQL client program on the database at ``dsn`` to its end; its own last words are the
    error when it fails."""
    dbname, password = without_password(dsn)
    env = {**os.environ, "PGPASSWORD": password} if password is not None else None
    process = await spawn([argv[0], "--dbname", dbname, *argv[1:]], env=env, output=asyncio.subprocess.PIPE)
    try:
        output, _ = await process.communicate()
    except BaseException:
        await terminate(process)
        raise
    if process.returncode != 0:
        said = output.decode(errors="replace").strip().splitlines()[-3:]
        raise BackupError(f"{what} failed (exit {process.returncode}): {' '.join(said) or 'no output'}")


def file_digest(path: Path) -> tuple[int, str]:
    """Size and SHA-256 of a local file."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


@dataclass(slots=True)
class _Tally:
    object_count: int = 0
    object_bytes: int = 0
    copied_count: int = 0
    copied_bytes: int = 0
    vanished: int = 0


async def _back_up_objects(objects: ObjectStore, target: ObjectStore, manifest: Path, work: Path) -> _Tally:
    tally = _Tally()
    with manifest.open("w") as lines:
        batch: list[str] = []
        async for item in objects.list(""):
            batch.append(item.key)
            if len(batch) == BATCH:
                await _back_up_batch(objects, target, batch, work, tally, lines)
                batch = []
        await _back_up_batch(objects, target, batch, work, tally, lines)
    return tally


async def _back_up_batch(
    objects: ObjectStore, target: ObjectStore, keys: list[str], work: Path, tally: _Tally, lines: TextIO
) -> None:
    same: dict[str, asyncio.Lock] = {}  # one copy of each content, even when two keys of a batch share it
    done = await all_of([_back_up_one(objects, target, key, work / f"object-{n}", same) for n, key in enumerate(keys)])
    for entry, copied in done:
        if entry is None:
            tally.vanished += 1
            continue
        tally.object_count += 1
        tally.object_bytes += entry.size
        if copied:
            tally.copied_count += 1
            tally.copied_bytes += entry.size
        lines.write(json.dumps(asdict(entry)) + "\n")


async def all_of(work: Sequence[Awaitable[T]]) -> list[T]:
    """Await all at once, results in order; then the first failure is raised as itself.

    Every one is awaited to its end even when one fails: a write running in a thread cannot be cancelled,
    and a caller that cleans up after a failure must not find a file appearing behind its back.
    """
    done = await asyncio.gather(*work, return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
    return done  # type: ignore[return-value]


async def _back_up_one(
    objects: ObjectStore, target: ObjectStore, key: str, spool: Path, same: dict[str, asyncio.Lock]
) -> tuple[ManifestEntry | None, bool]:
    """Hash the object; copy it into the pool when its hash is not there yet. (None: it was deleted meanwhile.)"""
    try:
        size, sha256 = await digest_stream(objects.stream(key))
        async with same.setdefault(sha256, asyncio.Lock()):
            if await target.exists(pool_key(sha256)):
                return ManifestEntry(key, size, sha256), False
            # Read again through a local file: bounded memory, and the copy is of exactly the bytes recorded.
            size, sha256 = await spool_stream(objects.stream(key), spool)
            try:
                await target.put_file(pool_key(sha256), spool)
            finally:
                spool.unlink(missing_ok=True)
            return ManifestEntry(key, size, sha256), True
    except ObjectMissing:
        log.warning("an object was deleted while it was being backed up", extra={"key": key})
        return None, False


async def digest_stream(chunks: AsyncIterator[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    async for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


async def spool_stream(chunks: AsyncIterator[bytes], path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as writer:
        async for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            await asyncio.to_thread(writer.write, chunk)
    return size, digest.hexdigest()


# --- listing and rotation -------------------------------------------------------------------------------


async def scan(target: ObjectStore) -> tuple[dict[str, list[str]], set[str]]:
    """Every backup prefix in the target with its keys, and the names of the complete ones (with backup.json)."""
    found: dict[str, list[str]] = {}
    async for item in target.list(""):
        name = item.key.split("/", 1)[0]
        if backup_time(name) is None:
            if item.key.startswith(POOL):
                break  # backup names (digits) sort before the pool: nothing of interest follows
            continue
        found.setdefault(name, []).append(item.key)
    complete = {name for name, keys in found.items() if f"{name}/{INFO}" in keys}
    return found, complete


async def list_backups(target: ObjectStore) -> list[BackupInfo]:
    """The complete backups, newest first; a backup whose backup.json is unreadable is left out with a warning."""
    _, complete = await scan(target)
    infos = []
    for name in sorted(complete, reverse=True):
        try:
            infos.append(await read_info(target, name))
        except BackupError as error:
            log.warning("a backup cannot be read", extra={"backup": name, "error": str(error)})
    return infos


async def read_info(target: ObjectStore, name: str) -> BackupInfo:
    if backup_time(name) is None:
        raise BackupError(
            f"{name!r} is not a backup name (they look like 2026-11-29T02-30-00Z; see `addax backup list`)"
        )
    try:
        data = await target.read(f"{name}/{INFO}")
    except ObjectMissing:
        raise BackupError(f"no backup {name} in {target.location} (see `addax backup list`)") from None
    return BackupInfo.from_json(name, data)


async def rotate_backups(
    target: ObjectStore, *, keep_daily: int, keep_weekly: int, now: datetime | None = None
) -> RotationReport:
    """Delete the backups the rotation does not keep, unfinished ones a day old, and pool copies nobody lists."""
    found, complete = await scan(target)
    plan = rotate(complete, keep_daily=keep_daily, keep_weekly=keep_weekly)
    unfinished = set(found) - complete
    left_behind = abandoned(unfinished, now or datetime.now(UTC))
    for name in (*plan.delete, *left_behind):
        # backup.json first: from that moment the backup is no longer listed, even if the rest fails
        for key in sorted(found[name], key=lambda key: not key.endswith(f"/{INFO}")):
            await target.delete(key)
        log.info("backup deleted", extra={"backup": name, "target": target.location})
    if unfinished - set(left_behind):
        # a backup in progress may have copied objects that no manifest lists yet
        log.info("a backup is in progress: unused object copies are left for the next rotation")
        return RotationReport(plan.delete, tuple(left_behind), 0, 0)
    listed: set[str] = set()
    for name in plan.keep:
        async for entry in manifest_entries(target, name):
            listed.add(entry.sha256)
    deleted = kept = 0
    async for item in target.list(POOL):
        if item.key.rsplit("/", 1)[-1] in listed:
            kept += 1
        else:
            await target.delete(item.key)
            deleted += 1
    return RotationReport(plan.delete, tuple(left_behind), deleted, kept)


async def manifest_entries(target: ObjectStore, name: str) -> AsyncIterator[ManifestEntry]:
    """The manifest's lines, streamed (a manifest of a large store does not fit in memory comfortably)."""
    rest = b""
    try:
        async for chunk in target.stream(f"{name}/{MANIFEST}"):
            *whole, rest = (rest + chunk).split(b"\n")
            for line in whole:
                yield parse_entry(name, line)
    except ObjectMissing:
        raise BackupError(f"backup {name}: {MANIFEST} is missing; the backup is damaged") from None
    if rest.strip():
        yield parse_entry(name, rest)


def parse_entry(name: str, line: bytes) -> ManifestEntry:
    """One manifest line, checked: a key that is a store key, a size, a SHA-256 in hex (it names a pool file)."""
    try:
        entry = ManifestEntry(**json.loads(line))
        check_key(entry.key)
        if not isinstance(entry.size, int) or entry.size < 0:
            raise ValueError(f"size {entry.size!r} is no byte count")
        if not isinstance(entry.sha256, str) or len(entry.sha256) != 64 or entry.sha256.strip(HEX):
            raise ValueError(f"sha256 {entry.sha256!r} is no SHA-256")
    except (ValueError, TypeError, BadObjectKey) as error:
        raise BackupError(f"backup {name}: a {MANIFEST} line is damaged ({error})") from None
    return entry
