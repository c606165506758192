"""The NiceGUI dashboard, served by uvicorn in the same process and event loop as the API."""

from addax.ui.app import UiServices, build_ui

__all__ = ["UiServices", "build_ui"]
