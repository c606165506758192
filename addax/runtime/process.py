"""Child processes that live and die with ours.

A child started here gets SIGTERM if our process dies for any reason (PR_SET_PDEATHSIG), so a
SIGKILL of the service never leaves orphan servers holding ports and lock files.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
from collections.abc import Callable, Sequence
from typing import IO

_PR_SET_PDEATHSIG = 1


def _child_setup(user: int | None, group: int | None) -> Callable[[], None]:
    """What the child does before exec: drop to ``user``/``group``, then ask to die with its parent.

    Done here rather than with Popen's user/group arguments so that it works on every event loop
    (uvloop's subprocess support lacks them); the parent-death signal must come after the
    switch of user, which clears it.
    """

    def setup() -> None:
        if group is not None:
            os.setgroups([])
            os.setgid(group)
        if user is not None:
            os.setuid(user)
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:
            pass  # not Linux: best effort

    return setup


async def spawn(
    argv: Sequence[str],
    *,
    user: int | None = None,
    group: int | None = None,
    env: dict[str, str] | None = None,
    output: IO[bytes] | int = asyncio.subprocess.DEVNULL,
) -> asyncio.subprocess.Process:
    """Start ``argv`` (as ``user``/``group`` when given) with stdout and stderr going to ``output``."""
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=output,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
        preexec_fn=_child_setup(user, group),
        start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop the child in order
    )


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
