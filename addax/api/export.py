"""``GET /api/export/camtrap-dp?project=ID[&from=&to=&site=&species=&media=zip|url&license=]``: a project as a
Camtrap DP 1.0.2 package, streamed as a zip while it is made (chunked; nothing of the project sits in memory).

Any member of the project may export it (viewer and up); a project the caller is not a member of is 404, as if it
did not exist. Photos that may show people go in as files only for the project's admins; for everyone else their
path is the API's blurred copy (see store/camtrap_export.py). A few exports run at once (``EXPORTS_AT_ONCE``): one
more is 503 with Retry-After.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re

from aiohttp import web
from aiohttp.helpers import content_disposition_header

from addax.api.access import int_param, require_user
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.domain.camtrap import DEFAULT_LICENSE, ExportFilterError, Selection, parse_day
from addax.store import accounts
from addax.store.accounts import ADMIN_ROLES
from addax.store.camtrap_export import ExportError, MediaLinks, Request, open_export

routes = web.RouteTableDef()
log = logging.getLogger("addax.api.export")


def _selection(request: web.Request) -> Selection:
    query = request.query
    try:
        return Selection(
            first_day=parse_day(query["from"], "from") if query.get("from") else None,
            last_day=parse_day(query["to"], "to") if query.get("to") else None,
            sites=tuple(name for name in query.getall("site", []) if name),
            species=tuple(name for name in query.getall("species", []) if name),
        )
    except ExportFilterError as error:
        raise json_error(400, str(error).replace("--", "")) from None


@routes.get("/api/export/camtrap-dp")
async def export_camtrap_dp(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    user = await require_user(request)
    project_id = int_param(request, "project")
    if project_id is None:
        raise json_error(400, "project is required (its id)")
    role = (await accounts.project_roles(services.pool, user)).get(project_id)
    if role is None:
        raise json_error(404, "no such project")
    mode = request.query.get("media") or services.export_media
    if mode not in ("zip", "url"):
        raise json_error(400, "media must be zip or url")
    export_request = Request(
        project_id=project_id,
        selection=_selection(request),
        links=MediaLinks(
            mode=mode,
            public_url=services.public_url or f"{request.scheme}://{request.host}",
            signed_for_s=services.signed_url_s,
            private_originals=role in ADMIN_ROLES,
        ),
        contact=user.email,
        license=request.query.get("license") or DEFAULT_LICENSE,
        instance=services.instance_name,
        software_version=_version(),
    )
    if services.export_slots.locked():
        error = json_error(503, "other exports are running; try again in a minute")
        error.headers["Retry-After"] = "60"
        raise error
    response = web.StreamResponse()
    try:
        async with services.export_slots, open_export(services.pool, export_request) as export:
            name = re.sub(r"[^A-Za-z0-9._-]+", "-", export.project.name).strip("-.") or "project"
            response.content_type = "application/zip"
            response.headers["Content-Disposition"] = content_disposition_header(
                "attachment", filename=f"{name}-camtrap-dp.zip"
            )
            response.enable_chunked_encoding()
            await response.prepare(request)
            tally = await export.write(response.write, objects=services.objects)
    except ExportError as error:
        if response.prepared:
            raise
        raise json_error(422, str(error)) from None
    await response.write_eof()
    log.info("camtrap-dp export of project %s by %s: %s", project_id, user.email, tally.summary())
    return response


def _version() -> str:
    try:
        return importlib.metadata.version("addax")
    except importlib.metadata.PackageNotFoundError:
        return ""
