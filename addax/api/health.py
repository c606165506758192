"""``GET /api/health``: overall status and each actor's health; 503 when degraded."""

from __future__ import annotations

from aiohttp import web

from addax.api.context import SERVICES

routes = web.RouteTableDef()


@routes.get("/api/health")
async def get_health(request: web.Request) -> web.Response:
    supervisor = request.app[SERVICES].supervisor
    actors = {entry.name: entry.as_dict() for entry in supervisor.health()}
    ok = not supervisor.escalated and all(entry["healthy"] for entry in actors.values())
    body: dict[str, object] = {"status": "ok" if ok else "degraded", "actors": actors}
    # What an operator should know even while everything is up (no detector yet, a circuit open ...).
    notices = [
        f"{name}: {entry['detail']}"
        for name, entry in actors.items()
        if entry["detail"] and (not entry["healthy"] or entry["detail"].startswith("waiting:"))
    ]
    if notices:
        body["notices"] = notices
    if supervisor.escalation is not None:
        body["error"] = str(supervisor.escalation)
    return web.json_response(body, status=200 if ok else 503)
