"""``GET /metrics`` in Prometheus text format: actor restarts and health, mailbox depths, HTTP timings."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from addax.api.context import SERVICES
from addax.api.errors import Handler
from addax.runtime import Supervisor
from addax.store import work

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


class _PipelineCollector(Collector):
    """Images per stage (the queues of the pipeline), arrival-to-done latency and dead letters, from PostgreSQL.

    Read by the /metrics handler just before each scrape (collectors cannot wait on the database).
    """

    FRESH_S = 10.0  # scrapes more often than this read the same figures

    def __init__(self) -> None:
        self.figures: dict[str, Any] = {}
        self.read_at = 0.0

    def stale(self) -> bool:
        return time.monotonic() - self.read_at > self.FRESH_S

    def update(self, figures: dict[str, Any]) -> None:
        self.figures, self.read_at = figures, time.monotonic()

    def collect(self) -> Iterator[Metric]:
        if not self.figures:
            return
        images = GaugeMetricFamily(
            "addax_images", "Images waiting in each stage (and failed), every worker's together", labels=["stage"]
        )
        for stage, count in sorted(self.figures["stages"].items()):
            images.add_metric([stage], count)
        latency = GaugeMetricFamily(
            "addax_processing_latency_seconds", "Arrival to done of the last 1,000 processed", labels=["quantile"]
        )
        for quantile, key in (("0.5", "latency_p50_s"), ("0.95", "latency_p95_s")):
            if self.figures[key] is not None:
                latency.add_metric([quantile], float(self.figures[key]))
        letters = GaugeMetricFamily("addax_dead_letters", "Failed images and notifications waiting for a retry")
        letters.add_metric([], self.figures["dead_letters"])
        pending = GaugeMetricFamily("addax_notifications_pending", "Notifications matched and not yet delivered")
        pending.add_metric([], self.figures["notifications_pending"])
        yield from (images, latency, letters, pending)


class Metrics:
    def __init__(self, supervisor: Supervisor) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_ActorCollector(supervisor))
        self.pipeline = _PipelineCollector()
        self.registry.register(self.pipeline)
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
    metrics = request.app[METRICS]
    if metrics.pipeline.stale():
        metrics.pipeline.update(await work.figures(request.app[SERVICES].pool))
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
