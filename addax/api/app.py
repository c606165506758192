"""Builds the aiohttp application from the services it needs."""

from __future__ import annotations

from aiohttp import web

from addax.api import (
    accounts,
    alerts,
    auth,
    cameras,
    dead_letters,
    detect,
    errors,
    events,
    export,
    health,
    images,
    limits,
    metrics,
    rejections,
    uploads,
)
from addax.api.context import SERVICES, ApiServices


def build_api(services: ApiServices) -> web.Application:
    registry = metrics.Metrics(services.supervisor)
    app = web.Application(
        middlewares=[metrics.timing_middleware(registry), errors.json_errors, limits.refuse_large_bodies],
        client_max_size=limits.JSON_BODY_BYTES,  # uploads stream their bodies with a limit of their own
    )
    app[SERVICES] = services
    app[metrics.METRICS] = registry
    app.add_routes(health.routes)
    app.add_routes(metrics.routes)
    for module in (auth, accounts, uploads, detect, images, cameras, rejections, dead_letters, alerts, events, export):
        app.add_routes(module.routes)
    return app
