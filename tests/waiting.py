"""Waiting for something to become true, with a deadline: the one place where tests poll."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

POLL_S = 0.02


async def eventually(check: Callable[[], Any], *, timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll ``check`` (plain or async) until it returns something truthy, and return that; fail at ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                result = check()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return result
                await asyncio.sleep(POLL_S)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}") from None


def wait_until(check: Callable[[], T], *, timeout: float, what: str, on_timeout: Callable[[], str] = str) -> T:
    """The same for synchronous tests and helpers (subprocesses, HTTP polling)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(POLL_S * 10)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}\n{on_timeout()}")
