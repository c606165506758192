"""What both embedded servers need: an unprivileged owner, directories, socket paths, log tails."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from addax.runtime.process import spawn

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


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
