"""How large a request body may be: small for JSON, large only for routes that stream their body (uploads).

The limit is checked on Content-Length before anything is read or anyone authenticated, so a client that
announces 64 MiB gets 413 at once and the server never waits for the bytes. A body sent without a length
(chunked) is cut off by aiohttp's ``client_max_size`` as soon as a handler reads past it (``read_json``).
"""

from __future__ import annotations

from aiohttp import web

from addax.api.context import SERVICES
from addax.api.errors import Handler, json_error

JSON_BODY_BYTES = 64 * 2**10  # the application's client_max_size: every JSON body fits in it many times over

# Routes that read their body as a multipart stream with a limit of their own (the receiver's max_bytes per
# file), with how many files they take; aiohttp's multipart reader is not bound by client_max_size.
STREAMED_ROUTES = {"/api/v1/upload": 1, "/api/v1/detect": 1, "/api/v1/detect/batch": 50}


def body_limit(request: web.Request) -> int:
    """The most bytes this request's route takes: a file plus some form fields for uploads, else a JSON body."""
    resource = request.match_info.route.resource
    if resource is not None and resource.canonical in STREAMED_ROUTES:
        files = STREAMED_ROUTES[resource.canonical]
        return files * (request.app[SERVICES].receiver.max_bytes or 0) + request.client_max_size
    return request.client_max_size


def too_large(limit: int) -> web.HTTPException:
    error = json_error(413, f"the request body is larger than {_size(limit)}")
    error.force_close()  # the rest of the body is not wanted: no keep-alive on this connection
    return error


@web.middleware
async def refuse_large_bodies(request: web.Request, handler: Handler) -> web.StreamResponse:
    limit = body_limit(request)
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    return await handler(request)


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit // 2**10} KiB"
