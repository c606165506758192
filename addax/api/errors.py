"""Every error leaves as JSON: ``{"error": "<message>", "status": <code>}``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from addax.store.database import DatabaseUnavailable

log = logging.getLogger("addax.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, **extra: object) -> web.HTTPException:
    """An HTTP error whose body is JSON; raise it from a handler."""
    error_class: type[web.HTTPException] = web.HTTPException
    for candidate in (web.HTTPBadRequest, web.HTTPUnauthorized, web.HTTPForbidden, web.HTTPNotFound,
                      web.HTTPConflict, web.HTTPRequestEntityTooLarge, web.HTTPTooManyRequests,
                      web.HTTPServiceUnavailable, web.HTTPUnprocessableEntity):  # fmt: skip
        if candidate.status_code == status:
            error_class = candidate
    return error_class(
        text=web.json_response({"error": message, "status": status, **extra}).text, content_type="application/json"
    )


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.content_type == "application/json" or error.status < 400:
            raise
        return web.json_response({"error": error.reason, "status": error.status}, status=error.status,
                                 headers={k: v for k, v in error.headers.items() if k.lower() == "retry-after"})
    except DatabaseUnavailable as error:
        return web.json_response({"error": f"database unavailable: {error}", "status": 503}, status=503)
    except Exception:
        log.exception("request failed", extra={"path": request.path, "method": request.method})
        return web.json_response({"error": "internal server error", "status": 500}, status=500)
