"""Placeholder while the page is written: registers nothing yet."""

from __future__ import annotations

from addax.ui.context import UiServices


def register(services: UiServices) -> None:
    pass
