"""``POST /api/v1/upload``: a device sends one file (multipart field ``file``) with its ``X-API-Token``.

The file takes the same path as an FTPS upload (store.receiving): spool, then the ingestor; the
answer (202) comes once the file is durable.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import PurePosixPath

from aiohttp import BodyPartReader, web

from addax.api.access import respond
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.domain.intake import Origin, Source
from addax.domain.secrets import token_digest
from addax.store import accounts
from addax.store.receiving import DiskFull, FileTooLarge

log = logging.getLogger("addax.api.upload")
routes = web.RouteTableDef()


@routes.post("/api/v1/upload")
async def upload(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    token = request.headers.get("X-API-Token", "")
    device = await accounts.find_device_token(services.pool, token_digest(token)) if token else None
    if device is None:
        raise json_error(401, "send a valid device token in X-API-Token (addax token add NAME --project P)")
    if not request.content_type.startswith("multipart/"):
        raise json_error(400, "send the file as multipart/form-data in a field named 'file'")
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name != "file":
            continue
        origin = Origin(
            project_id=device.project_id,
            source=Source.HTTP,
            original_name=PurePosixPath((part.filename or "upload").replace("\\", "/")).name or "upload",
            upload_path=request.query.get("path", ""),
            account=device.name,
        )
        try:
            arrival = await services.receiver.receive(_chunks(part), origin)
        except FileTooLarge as refused:
            raise json_error(413, str(refused)) from None
        except DiskFull as refused:
            error = json_error(507, str(refused))
            error.headers["Retry-After"] = "600"
            raise error from None
        log.info("upload received", extra={"device": device.name, "file": origin.original_name})
        return respond({"status": "accepted", "id": arrival.id, "name": arrival.original_name}, status=202)
    raise json_error(400, "no field named 'file' in the form")


async def _chunks(part: BodyPartReader) -> AsyncIterator[bytes]:
    while chunk := await part.read_chunk(1 << 16):
        yield chunk
