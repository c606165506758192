"""``POST /api/v1/upload``: a device sends one file (multipart field ``file``) with its ``X-API-Token``.

The file takes the same path as an FTPS upload: spool, then the ingestor.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import PurePosixPath

from aiohttp import BodyPartReader, web

from addax.api.access import respond
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.domain.intake import Arrival, Source
from addax.domain.secrets import token_digest
from addax.store import accounts

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
        if isinstance(part, BodyPartReader) and part.name == "file":
            arrival = await _receive(request, part, project_id=device.project_id, device=device.name)
            await services.deliver(arrival)
            return respond({"status": "accepted", "id": arrival.id, "name": arrival.original_name}, status=202)
    raise json_error(400, "no field named 'file' in the form")


async def _receive(request: web.Request, part: BodyPartReader, *, project_id: int, device: str) -> Arrival:
    services = request.app[SERVICES]
    name = PurePosixPath((part.filename or "upload").replace("\\", "/")).name or "upload"
    spool_id, partial = services.spool.new_partial()
    size = 0
    try:
        with partial.open("wb") as received:
            while chunk := await part.read_chunk(1 << 16):
                size += len(chunk)
                if size > services.max_upload_bytes:
                    raise json_error(413, f"file exceeds the limit of {services.max_upload_bytes // 2**20} MB")
                received.write(chunk)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    arrival = Arrival(
        id=spool_id,
        project_id=project_id,
        source=Source.HTTP,
        original_name=name,
        upload_path=request.query.get("path", ""),
        account=device,
    )
    await asyncio.to_thread(services.spool.commit, partial, arrival)
    log.info("upload received", extra={"device": device, "file": name, "bytes": size})
    return arrival
