"""What both embedded servers need: an unprivileged owner, directories, socket paths, their logs."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from addax.runtime.process import spawn

log = logging.getLogger("addax.embedded")

# sun_path is 108 bytes on Linux; leave room for the socket's own file name.
_MAX_SOCKET_DIR = 80


class EmbeddedServerError(Exception):
    """The embedded server cannot start; the message says what to do."""


class EmbeddedServerExited(Exception):
    """The supervised server process ended while we still needed it."""


@dataclass(frozen=True, slots=True)
class Owner:
    name: str
    uid: int
    gid: int


class DataDirInUse(EmbeddedServerError):
    """Another Addax process holds the data directory (and runs its embedded servers)."""


@contextlib.contextmanager
def exclusive_data_dir(directory: Path) -> Iterator[None]:
    """Hold ``directory`` for this process: one process at a time runs the embedded servers there."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "addax.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataDirInUse(
                f"another Addax process (addax run, or a CLI command) is using {directory}; stop it first"
            ) from None
        yield


def ensure_writable(directory: Path) -> None:
    """Create ``directory`` and prove we can write there, or fail with one clear line."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise EmbeddedServerError(
            f"general.data_dir: {directory} is not writable ({error.strerror or error}); "
            "choose another directory or fix its permissions"
        ) from None


async def service_owner(name: str) -> Owner | None:
    """The unprivileged account to run a server as when we are root (None when we are not root)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        await _create_system_user(name)
        entry = pwd.getpwnam(name)
    return Owner(name=name, uid=entry.pw_uid, gid=entry.pw_gid)


async def _create_system_user(name: str) -> None:
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    process = await asyncio.create_subprocess_exec(
        useradd,
        "--system",
        "--no-create-home",
        "--home-dir",
        "/nonexistent",
        "--shell",
        "/usr/sbin/nologin",
        name,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    if process.returncode not in (0, 9):  # 9: the user appeared meanwhile (another process made it)
        raise EmbeddedServerError(
            f"could not create system user {name!r} to run the embedded database: {output.decode().strip()}"
        )


def own_directory(path: Path, owner: Owner | None, *, mode: int = 0o700) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if owner is not None:
        for root, dirs, files in os.walk(path):
            os.chown(root, owner.uid, owner.gid)
            for name in dirs + files:
                os.lchown(os.path.join(root, name), owner.uid, owner.gid)
    path.chmod(mode)


async def check_reachable(path: Path, owner: Owner | None) -> None:
    """Fail clearly when ``owner`` cannot write ``path`` (e.g. a parent directory is private to root)."""
    if owner is None:
        return
    process = await spawn(["test", "-w", str(path), "-a", "-x", str(path)], user=owner.uid, group=owner.gid)
    if await process.wait() != 0:
        blocked = next((p for p in reversed(path.parents) if not p.stat().st_mode & 0o001), path)
        raise EmbeddedServerError(
            f"{path} is not reachable by system user {owner.name!r}, which runs the embedded server because "
            f"it refuses to run as root: {blocked} is closed to other users. Run `chmod o+x {blocked}`, or set "
            "general.data_dir to a directory elsewhere (e.g. /var/lib/addax)"
        )


def socket_directory(data_dir: Path) -> Path:
    """``data_dir/run`` unless that path is too long for a Unix socket; then a stable dir in /tmp."""
    preferred = data_dir / "run"
    if len(str(preferred)) <= _MAX_SOCKET_DIR:
        return preferred
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"addax-{digest}"


@dataclass(frozen=True, slots=True)
class LogRotation:
    """A server's log is rotated when it is over ``max_bytes`` (checked every ``check_s``); ``keep`` old copies stay."""

    max_bytes: int = 50 * 1024 * 1024
    keep: int = 5
    check_s: float = 60.0


def rotated(path: Path, number: int) -> Path:
    """An old copy of the log ``path``: ``.1`` is the newest."""
    return path.with_name(f"{path.name}.{number}")


def rotate_if_larger(path: Path, *, max_bytes: int, keep: int) -> bool:
    """When ``path`` is over ``max_bytes``: copy it to ``.1`` (older copies move up, beyond ``keep`` they go), empty it.

    Copy, then truncate in place rather than rename, because the server goes on writing to this very
    file: PostgreSQL through the descriptor it was started with (opened for appending, so its next
    write lands at the new end, not at the old offset), redis-server by opening the path for each
    line. What is written between the copy and the truncation is lost.
    """
    try:
        if path.stat().st_size <= max_bytes:
            return False
    except FileNotFoundError:
        return False
    extra = keep + 1
    while rotated(path, extra).exists():  # left by an earlier, larger ``keep``
        rotated(path, extra).unlink()
        extra += 1
    for number in range(keep - 1, 0, -1):
        older = rotated(path, number)
        if older.exists():
            older.replace(rotated(path, number + 1))
    shutil.copy(path, rotated(path, 1))
    os.truncate(path, 0)
    return True


async def wait_rotating(process: asyncio.subprocess.Process, log_file: Path, rotation: LogRotation) -> int:
    """Wait for ``process`` to exit, and meanwhile keep its log within ``rotation``; return its exit code."""
    exited = asyncio.ensure_future(process.wait())
    try:
        while True:
            await _rotate(log_file, rotation)
            done, _ = await asyncio.wait([exited], timeout=rotation.check_s)
            if done:
                return exited.result()
    finally:
        exited.cancel()


async def _rotate(log_file: Path, rotation: LogRotation) -> None:
    try:
        if await asyncio.to_thread(rotate_if_larger, log_file, max_bytes=rotation.max_bytes, keep=rotation.keep):
            log.info("rotated a server log", extra={"file": str(log_file)})
    except OSError as error:  # a full disk, say: the server must not be stopped over its log
        log.warning("could not rotate a server log", extra={"file": str(log_file), "error": str(error)})


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a server log, from its newest old copy too when it was just rotated."""
    tail: list[str] = []
    try:
        tail = path.read_text(errors="replace").splitlines()
        if len(tail) < lines:
            tail = rotated(path, 1).read_text(errors="replace").splitlines() + tail
    except OSError:
        pass
    return "\n".join(tail[-lines:])
