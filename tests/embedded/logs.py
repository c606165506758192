"""Reading a server log that the server and the rotation may be changing under us."""

from __future__ import annotations

from pathlib import Path


def text(path: Path) -> str:
    """The log's text so far; empty while it does not exist (yet)."""
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
