"""The commands a user sends to the bot, read from a message's text (no I/O)."""

from __future__ import annotations

COMMANDS = frozenset({"start", "stop"})


def parse_command(text: str) -> tuple[str, str] | None:
    """``("start", token)`` for ``/start token``, ``("stop", "")`` for ``/stop`` or ``/stop@SomeBot``; else None.

    Commands are matched case-insensitively; whatever follows the command, stripped, is its argument.
    """
    words = text.split(maxsplit=1)
    if not words or not words[0].startswith("/"):
        return None
    command = words[0][1:].partition("@")[0].lower()
    if command not in COMMANDS:
        return None
    return command, words[1].strip() if len(words) > 1 else ""
