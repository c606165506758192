"""The aiohttp application: REST API, health and metrics. One module per resource."""

from addax.api.app import build_api
from addax.api.context import ApiServices

__all__ = ["ApiServices", "build_api"]
