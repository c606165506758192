"""``POST /api/v1/detect`` and ``/api/v1/detect/batch``: what the models see in photos sent now, synchronously.

For edge devices and other tools: nothing is stored. The photos share the models' batches with the pipeline
but go before its backlog; when more than ``models.detect_queue_limit`` wait already the answer is 503 with
``Retry-After``, so a busy server sheds load instead of letting every caller time out. A batch (up to 50
files, multipart fields named ``file``) answers per file, a result or an error, never all-or-nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import BodyPartReader, web

from addax.api.access import require_user, respond
from addax.api.context import SERVICES, ApiServices
from addax.api.errors import json_error
from addax.domain.secrets import token_digest
from addax.models.imaging import UnreadableImage
from addax.models.registry import ModelUnavailable
from addax.runtime.batching import Overloaded
from addax.store import accounts

log = logging.getLogger("addax.api.detect")
routes = web.RouteTableDef()

MAX_BATCH = 50
BATCH_AT_ONCE = 8
RETRY_AFTER_S = 2
BUSY = "the detector is busy; try again shortly"


@routes.post("/api/v1/detect")
async def detect(request: web.Request) -> web.Response:
    services = await _authorised(request)
    files = await _files(request, limit=1)
    if not files:
        raise json_error(400, "no field named 'file' in the form")
    name, data = files[0]
    try:
        result = await _analyse(services, data, _threshold(request))
    except UnreadableImage as error:
        raise json_error(422, f"{name}: {error}") from None
    except ModelUnavailable as error:
        raise _unavailable(str(error)) from None
    except Overloaded:
        raise _unavailable(BUSY, retry_after=RETRY_AFTER_S) from None
    return respond(result)


@routes.post("/api/v1/detect/batch")
async def detect_batch(request: web.Request) -> web.Response:
    services = await _authorised(request)
    files = await _files(request, limit=MAX_BATCH)
    if not files:
        raise json_error(400, "no field named 'file' in the form")
    threshold = _threshold(request)
    # A few at a time: one request of 50 photos must not fill the detector's queue for every other caller.
    at_once = asyncio.Semaphore(BATCH_AT_ONCE)

    async def one(name: str, data: bytes) -> dict[str, Any]:
        async with at_once:
            try:
                return {"file": name, **await _analyse(services, data, threshold)}
            except UnreadableImage as error:
                return {"file": name, "error": str(error)}
            except ModelUnavailable as error:
                return {"file": name, "error": str(error), "retry_after_s": 60}
            except Overloaded:
                return {"file": name, "error": BUSY, "retry_after_s": RETRY_AFTER_S}

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(name, data)) for name, data in files]
    return respond({"results": [task.result() for task in tasks]})


async def _analyse(services: ApiServices, data: bytes, threshold: float) -> dict[str, Any]:
    """The contract's answer for one photo; raises UnreadableImage, ModelUnavailable or Overloaded."""
    if services.analyse is None:
        raise ModelUnavailable("this server does not run a detector")
    if not data:
        raise UnreadableImage("the file is empty")
    analysis = await services.analyse(data, threshold)
    return {
        "detections": analysis.detections,
        "classifications": analysis.classifications,
        "model": analysis.model,
        "inference_ms": analysis.inference_ms,
    }


def _unavailable(message: str, *, retry_after: int = 60) -> web.HTTPException:
    error = json_error(503, message)
    error.headers["Retry-After"] = str(retry_after)
    return error


def _threshold(request: web.Request) -> float:
    text = request.query.get("threshold", "0.5")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise json_error(400, "threshold must be a number from 0 to 1")
    return value


async def _authorised(request: web.Request) -> ApiServices:
    """A device token (X-API-Token) or a user's bearer token opens the detect API."""
    services = request.app[SERVICES]
    token = request.headers.get("X-API-Token", "")
    if token:
        if await accounts.find_device_token(services.pool, token_digest(token)) is None:
            raise json_error(401, "the device token is unknown or revoked")
        return services
    await require_user(request)
    return services


async def _files(request: web.Request, *, limit: int) -> list[tuple[str, bytes]]:
    """The form's ``file`` fields, each within the upload size limit, at most ``limit`` of them."""
    if not request.content_type.startswith("multipart/"):
        raise json_error(400, "send the photo as multipart/form-data in a field named 'file'")
    max_bytes = request.app[SERVICES].receiver.max_bytes or 50 * 2**20
    files: list[tuple[str, bytes]] = []
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        if len(files) == limit:
            raise json_error(413, f"at most {limit} files per request")
        data = bytearray()
        while chunk := await part.read_chunk(1 << 16):
            data += chunk
            if len(data) > max_bytes:
                raise json_error(413, f"{part.filename or 'file'} is larger than {max_bytes // 2**20} MiB")
        files.append((part.filename or f"file{len(files) + 1}", bytes(data)))
    return files
