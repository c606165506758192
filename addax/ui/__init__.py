"""The NiceGUI dashboard, served by uvicorn in the same process and event loop as the API."""

from addax.ui.app import build_ui
from addax.ui.context import UiServices

__all__ = ["UiServices", "build_ui"]
