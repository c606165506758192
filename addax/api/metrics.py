"""``GET /metrics`` in Prometheus text format: actor restarts and health, mailbox depths, HTTP timings."""

from __future__ import annotations

import time
from collections.abc import Iterator

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from addax.api.errors import Handler
from addax.runtime import Supervisor

routes = web.RouteTableDef()


class _ActorCollector(Collector):
    """Reads actor health at scrape time, so the numbers are never stale."""

    def __init__(self, supervisor: Supervisor) -> None:
        self._supervisor = supervisor

    def collect(self) -> Iterator[Metric]:
        restarts = GaugeMetricFamily("addax_actor_restarts", "Restarts of each actor since start", labels=["actor"])
        up = GaugeMetricFamily("addax_actor_up", "1 when the actor is alive and healthy", labels=["actor"])
        depth = GaugeMetricFamily("addax_mailbox_depth", "Messages waiting in each actor's mailbox", labels=["actor"])
        capacity = GaugeMetricFamily("addax_mailbox_capacity", "Capacity of each actor's mailbox", labels=["actor"])
        for health in self._supervisor.health():
            restarts.add_metric([health.name], health.restarts)
            up.add_metric([health.name], 1 if health.healthy else 0)
            depth.add_metric([health.name], health.mailbox_depth)
            capacity.add_metric([health.name], health.mailbox_capacity)
        yield from (restarts, up, depth, capacity)


class Metrics:
    def __init__(self, supervisor: Supervisor) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_ActorCollector(supervisor))
        self.http_duration = Histogram(
            "addax_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route", "status"],
            registry=self.registry,
        )


METRICS = web.AppKey("metrics", Metrics)


def timing_middleware(metrics: Metrics) -> Middleware:
    @web.middleware
    async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            info = request.match_info.route.resource
            route = info.canonical if info is not None else "unmatched"
            metrics.http_duration.labels(request.method, route, str(status)).observe(time.perf_counter() - started)

    return timed


@routes.get("/metrics")
async def get_metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
