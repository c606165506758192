"""Reading /start and /stop from what a user types to the bot."""

from __future__ import annotations

import pytest

from addax.domain.telegram_commands import parse_command


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start abc", ("start", "abc")),
        ("  /start   k3y-_9  ", ("start", "k3y-_9")),
        ("/start@AddaxBot abc", ("start", "abc")),
        ("/start", ("start", "")),
        ("/start\nabc", ("start", "abc")),
        ("/stop", ("stop", "")),
        ("/stop@MyBot", ("stop", "")),
        ("/STOP", ("stop", "")),
    ],
)
def test_commands(text: str, expected: tuple[str, str]) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["", "hello", "start abc", "/help", "/", "/starting", "please /stop", "@MyBot /stop"])
def test_anything_else_is_not_a_command(text: str) -> None:
    assert parse_command(text) is None
