"""Child processes that live and die with ours.

A child started here gets SIGTERM if our process dies for any reason (PR_SET_PDEATHSIG), so a
SIGKILL of the service never leaves orphan servers holding ports and lock files.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
from collections.abc import Sequence
from typing import IO

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: best effort


async def spawn(
    argv: Sequence[str],
    *,
    user: int | None = None,
    group: int | None = None,
    env: dict[str, str] | None = None,
    output: IO[bytes] | int = asyncio.subprocess.DEVNULL,
) -> asyncio.subprocess.Process:
    """Start ``argv`` (as ``user``/``group`` when given) with stdout and stderr going to ``output``."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=output,
        stderr=asyncio.subprocess.STDOUT,
        user=user,
        group=group,
        extra_groups=[] if user is not None else None,
        env=env,
        preexec_fn=_die_with_parent,
        start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop the child in order
    )
    return process


async def terminate(process: asyncio.subprocess.Process, *, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Ask the child to stop with ``sig``; kill it if it has not exited after ``timeout`` seconds."""
    if process.returncode is not None:
        return process.returncode
    try:
        process.send_signal(sig)
        return await asyncio.wait_for(process.wait(), timeout)
    except ProcessLookupError:
        return await process.wait()
    except TimeoutError:
        process.kill()
        return await process.wait()


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
