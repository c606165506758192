"""Every error leaves as JSON: ``{"error": "<message>", "status": <code>}``."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from aiohttp import web

from addax.store.accounts import AccountError
from addax.store.database import DatabaseUnavailable
from addax.store.objects import ObjectStoreError
from addax.store.placement import PlacementError

log = logging.getLogger("addax.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENT_GONE = 499  # "client closed request", as nginx logs it: only the access log ever sees it


class JsonError(web.HTTPException):
    """An HTTP error of any status whose body is ``{"error": ..., "status": ...}``."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        self.status_code = status
        body = json.dumps({"error": message, "status": status, **extra})
        super().__init__(text=body, content_type="application/json")


def json_error(status: int, message: str, **extra: object) -> web.HTTPException:
    """An HTTP error whose body is JSON; raise it from a handler."""
    return JsonError(status, message, **extra)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.content_type == "application/json" or error.status < 400:
            raise
        return web.json_response(
            {"error": error.reason, "status": error.status},
            status=error.status,
            headers={k: v for k, v in error.headers.items() if k.lower() == "retry-after"},
        )
    except (PlacementError, AccountError) as error:
        return web.json_response({"error": str(error), "status": 409}, status=409)
    except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
        return web.json_response(
            {"error": "the change collided with another one; try again", "status": 503},
            status=503,
            headers={"Retry-After": "1"},
        )
    except DatabaseUnavailable as error:
        return web.json_response({"error": f"database unavailable: {error}", "status": 503}, status=503)
    except ObjectStoreError as error:  # the store is down or refusing, not the request at fault
        log.warning("object store unavailable", extra={"path": request.path, "error": str(error)})
        return web.json_response(
            {"error": f"object store unavailable, try again: {error}", "status": 503},
            status=503,
            headers={"Retry-After": "5"},
        )
    except Exception as error:
        if isinstance(error, ConnectionResetError) and _caller_hung_up(request):
            # A camera or script that sends and closes: not our failure, and nobody to answer (aiohttp drops
            # the closed connection quietly). A reset on one of our own outbound connections is a 500 below.
            log.info("the client went away before its answer", extra={"path": request.path, "method": request.method})
            return web.Response(status=CLIENT_GONE)
        log.exception("request failed", extra={"path": request.path, "method": request.method})
        return web.json_response({"error": "internal server error", "status": 500}, status=500)


def _caller_hung_up(request: web.Request) -> bool:
    return request.transport is None or request.transport.is_closing()
