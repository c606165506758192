"""Backups of this server, as the config says: its database and object store, to ``[backup] target``.

What ``addax backup now``, the nightly job and ``addax restore`` share: opening the target and the stores,
finding pg_dump and pg_restore, and for a restore the embedded cluster of the new data dir. The mechanics
are in ``store/backups.py`` (making, listing, rotating) and ``store/backup_restore.py`` (reading back).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from addax import __version__
from addax.config import Config
from addax.domain.sizes import size_text
from addax.embedded.common import exclusive_data_dir
from addax.embedded.pg_tools import find_tool
from addax.embedded.postgres import EmbeddedPostgres
from addax.object_storage import open_location, open_objects
from addax.runtime import Supervisor
from addax.store import backup_restore, backups
from addax.store.backups import BackupError, BackupInfo, RotationReport
from addax.store.object_fs import FilesystemObjectStore
from addax.store.objects import ObjectStore

log = logging.getLogger("addax.backups")

WORK_DIR = "backup-work"  # in the data dir: the dump is written here before it goes to the target
LOCK = "backup.lock"  # in WORK_DIR: held while a backup is made and rotated
LOCK_POLL_S = 5.0


def target_of(config: Config) -> str:
    """``backup.target``, or the data dir's ``backups`` directory when it is empty."""
    return config.backup.target or str(config.data_path / "backups")


def _absent_directory(config: Config) -> Path | None:
    """The target's directory when it does not exist: commands that only read must not create it (a mistyped or
    unmounted target would look like an empty one)."""
    where = target_of(config)
    if where.startswith("s3://"):
        return None
    directory = Path(where).expanduser()
    return None if directory.exists() else directory


def _must_exist(config: Config) -> None:
    if (directory := _absent_directory(config)) is not None:
        raise BackupError(f"{directory} does not exist: no backups there (is backup.target right, and mounted?)")


@dataclass(frozen=True, slots=True)
class BackupOutcome:
    info: BackupInfo
    rotation: RotationReport
    seconds: float
    target: str

    def summary(self) -> str:
        info = self.info
        lines = [
            f"backup {info.name} made in {self.seconds:.1f} s in {self.target}",
            f"  database: {size_text(info.database_bytes)} (dump {size_text(info.dump_bytes)}), "
            f"migration {info.migration}",
            f"  objects: {info.object_count} ({size_text(info.object_bytes)}), "
            f"{info.copied_count} new to the backups ({size_text(info.copied_bytes)})",
        ]
        if info.vanished:
            lines.append(f"  {info.vanished} object(s) were deleted while the backup ran and are not in it")
        if self.rotation.deleted or self.rotation.abandoned:
            gone = ", ".join((*self.rotation.deleted, *self.rotation.abandoned))
            lines.append(f"  rotation deleted {gone} and {self.rotation.pool_deleted} unused object copies")
        return "\n".join(lines)


@contextlib.asynccontextmanager
async def one_backup_at_a_time(config: Config, *, wait: bool) -> AsyncIterator[None]:
    """Hold this data dir's backup lock; with ``wait`` False a backup already running is an error.

    Why: a rotation deletes the pool copies that no kept backup lists. A backup running meanwhile (``addax backup
    now`` beside the nightly one) may have found a copy there, not copied it, and list it later: the rotation,
    seeing no unfinished backup yet, would delete it. One backup and rotation at a time per server rules that out.
    """
    directory = config.data_path / WORK_DIR
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (directory / LOCK).open("a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    raise BackupError(
                        "another backup of this server is being made right now (the nightly one or "
                        "`addax backup now`); try again when it has finished"
                    ) from None
                await asyncio.sleep(LOCK_POLL_S)
        # Held: no backup runs here, so what is left is a crashed one's (a dump of the whole database, maybe).
        for leftover in directory.iterdir():
            if leftover.name != LOCK:
                await asyncio.to_thread(shutil.rmtree, leftover, True)
        yield


async def back_up(config: Config, *, dsn: str, objects: ObjectStore | None = None, wait: bool = False) -> BackupOutcome:
    """Make a backup of the database at ``dsn`` and of the object store, then rotate the target's backups.

    One at a time per data dir: with ``wait`` it waits for a backup already running, else that is an error."""
    started = time.monotonic()
    pg_dump = find_tool("pg_dump", config.database.bin_dir)
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(one_backup_at_a_time(config, wait=wait))
        target = await stack.enter_async_context(open_location(config, target_of(config)))
        if objects is None:
            objects = await stack.enter_async_context(open_objects(config))
        info = await backups.make_backup(
            dsn=dsn,
            objects=objects,
            target=target,
            pg_dump=pg_dump,
            work_dir=config.data_path / WORK_DIR,
            version=__version__,
        )
        rotation = await backups.rotate_backups(
            target, keep_daily=config.backup.keep_daily, keep_weekly=config.backup.keep_weekly
        )
    return BackupOutcome(info=info, rotation=rotation, seconds=time.monotonic() - started, target=target.location)


def server_zone() -> ZoneInfo:
    """The server's own time zone (what backup.at is in): $TZ, else /etc/localtime's link, else UTC."""
    names = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        names.append(str(Path("/etc/localtime").resolve()).partition("/zoneinfo/")[2])
    for name in names:
        if name:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(name)
    return ZoneInfo("UTC")


def nightly(config: Config, *, dsn: str, objects: ObjectStore) -> Callable[[], Awaitable[str]]:
    """The scheduler's nightly job: a backup and a rotation; it returns what to log."""

    async def job() -> str:
        return (await back_up(config, dsn=dsn, objects=objects, wait=True)).summary()

    return job


async def list_backups(config: Config) -> tuple[str, list[BackupInfo]]:
    """The target's location and its complete backups, newest first."""
    if (directory := _absent_directory(config)) is not None:
        return str(directory), []
    async with open_location(config, target_of(config)) as target:
        return target.location, await backups.list_backups(target)


@dataclass(frozen=True, slots=True)
class RestoreOutcome:
    info: BackupInfo
    data_dir: Path
    objects: backup_restore.RestoredObjects
    database: str  # "embedded" or the database.url it went into
    seconds: float

    def summary(self) -> str:
        where = "its embedded database" if self.database == "embedded" else "database.url"
        return (
            f"restored backup {self.info.name} into {self.data_dir} in {self.seconds:.1f} s: "
            f"{self.objects.count} objects ({size_text(self.objects.bytes)}) with their SHA-256 checked, "
            f"the database (migration {self.info.migration}) into {where}\n"
            f'start the service on it: set general.data_dir = "{self.data_dir}" in config.toml '
            f"(or ADDAX_GENERAL_DATA_DIR={self.data_dir}) and run `addax run`"
        )


async def restore(config: Config, name: str, data_dir: Path) -> RestoreOutcome:
    """Restore backup ``name`` into the fresh data dir ``data_dir``; on any failure the dir is left empty."""
    started = time.monotonic()
    data_dir = data_dir.expanduser().resolve()
    if not backup_restore.is_empty_directory(data_dir):
        raise BackupError(f"{data_dir} is not an empty directory: restore into a new or empty one (nothing changed)")
    pg_restore = find_tool("pg_restore", config.database.bin_dir)
    if config.database.url and not await backups.database_is_empty(config.database.url):
        raise BackupError(
            "database.url points at a database with tables in it: restore needs an empty one "
            "(create one, e.g. `createdb addax_restored`, and point database.url at it; nothing changed)"
        )
    _must_exist(config)
    async with open_location(config, target_of(config)) as target:
        info = await backups.read_info(target, name)
        made = not data_dir.exists()
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o711)  # as `addax run` keeps it: the database's own user passes through
        work = data_dir / WORK_DIR
        work.mkdir(mode=0o700)  # the dump holds the accounts' password hashes
        try:
            dump = work / backups.DUMP
            await backup_restore.fetch_dump(target, info, dump)
            into = FilesystemObjectStore(data_dir / "objects")
            restored = await backup_restore.restore_objects(target, info, into, work)
            await _restore_database(config, data_dir, info, dump, pg_restore)
            shutil.rmtree(work)
        except BaseException:
            backup_restore.empty_directory(data_dir)
            if made:
                data_dir.rmdir()
            raise
    return RestoreOutcome(
        info=info,
        data_dir=data_dir,
        objects=restored,
        database=config.database.url or "embedded",
        seconds=time.monotonic() - started,
    )


@dataclass(frozen=True, slots=True)
class VerifyOutcome:
    info: BackupInfo
    verification: backup_restore.Verification
    seconds: float

    def summary(self) -> str:
        objects = self.verification.objects
        checked = (
            f"the dump and {objects.count} objects ({size_text(objects.bytes)}) read in {self.seconds:.1f} s, "
            "every SHA-256 and size checked"
        )
        total = self.verification.problem_count
        if not total:
            return f"backup {self.info.name} is whole: {checked}"
        shown = [f"  {problem}" for problem in self.verification.problems[:MAX_PROBLEMS_SHOWN]]
        if total > len(shown):
            shown.append(f"  ... and {total - len(shown)} more")
        count = f"{total} problem{'s' if total > 1 else ''}"
        return "\n".join([f"backup {self.info.name} is damaged: {count} ({checked})", *shown])


MAX_PROBLEMS_SHOWN = 50


async def verify(config: Config, name: str) -> VerifyOutcome:
    """Read backup ``name`` back and check every piece against its manifest; nothing is written to the target."""
    started = time.monotonic()
    _must_exist(config)
    async with open_location(config, target_of(config)) as target:
        info = await backups.read_info(target, name)
        with tempfile.TemporaryDirectory(prefix="addax-verify-") as work:  # the manifest, spooled (it may be big)
            verification = await backup_restore.verify(target, info, Path(work))
    return VerifyOutcome(info=info, verification=verification, seconds=time.monotonic() - started)


async def _restore_database(config: Config, data_dir: Path, info: BackupInfo, dump: Path, pg_restore: Path) -> None:
    if config.database.url:
        await _pg_restore(config.database.url, info, dump, pg_restore)
        return
    with exclusive_data_dir(data_dir):
        async with Supervisor() as supervisor:
            postgres = EmbeddedPostgres(
                data_dir=data_dir, bin_dir=config.database.bin_dir, user=config.database.embedded_user
            )
            await supervisor.start(postgres)
            await _pg_restore(postgres.dsn, info, dump, pg_restore)


async def _pg_restore(dsn: str, info: BackupInfo, dump: Path, pg_restore: Path) -> None:
    # One transaction: a restore that fails leaves the database as empty as it was.
    await backups.run_tool(
        [str(pg_restore), "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges", str(dump)],
        dsn=dsn,
        what="pg_restore",
    )  # fmt: skip
    migration, _ = await backups.database_facts(dsn)
    if migration != info.migration:
        raise BackupError(f"the restored database is at migration {migration}, the backup says {info.migration}")
