"""Photos for the dashboard (``/media/{image_id}/{variant}``), with the same rules as the API's file endpoint.

The browser has a session cookie, not a bearer token, so the dashboard serves its own images: thumbnails and
annotated images (blurred where people or vehicles are) to anyone who may see the project; the original of a
photo that may show people only to the project's admins, and that is audited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import Response
from fastapi.responses import StreamingResponse
from nicegui import app as nicegui_app

from addax.derivatives import blurred_copy
from addax.store import audit, browse
from addax.store.objects import ObjectStoreError
from addax.ui.context import UiServices
from addax.ui.session import signed_in, viewer_of

VARIANTS = ("thumbnail", "annotated", "original")
CONTENT_TYPES = {"photo": "image/jpeg", "video": "video/mp4"}
CACHE = "private, max-age=600"  # per browser only, and short: access and blurring can change


def media_url(image_id: int, variant: str) -> str:
    return f"/media/{image_id}/{variant}"


def register(services: UiServices) -> None:
    @nicegui_app.get("/media/{image_id}/{variant}", include_in_schema=False)
    async def media(image_id: int, variant: str) -> Response:
        if variant not in VARIANTS:
            return Response("unknown variant", status_code=404)
        user = await signed_in(services.pool, nicegui_app.storage.user)
        if user is None:
            return Response("sign in first", status_code=401)
        viewer = await viewer_of(services.pool, user)
        found = await browse.image_keys(services.pool, image_id)
        if found is None or not viewer.can_see(found.project_id):
            return Response("not found", status_code=404)
        key = {"thumbnail": found.thumbnail_key, "annotated": found.annotated_key}.get(variant, found.original_key)
        if key is None:
            return Response(f"no {variant} of this photo yet", status_code=404)
        content_type = (
            "image/jpeg" if variant != "original" else CONTENT_TYPES.get(found.kind, "application/octet-stream")
        )
        if variant == "original" and await browse.shows_people(services.pool, image_id):
            if not viewer.admin_of(found.project_id):
                return Response(
                    "this photo may show people: only its project's admins see the original", status_code=403
                )
            await audit.record(services.pool, actor=user.email, action="image.unblur", target=f"image:{image_id}")
        try:
            if variant != "original" and found.people_unblurred:  # the copy misses someone: blurred whole
                return await _blurred(services, key)
            return await _streamed(services, key, content_type)
        except FileNotFoundError:
            return Response("the file is missing from the object store", status_code=404)
        except ObjectStoreError:  # down or refusing: a retry may help
            return Response("the object store is unavailable; try again", status_code=503)


async def _blurred(services: UiServices, key: str) -> Response:
    copy = await services.objects.read(key)
    blurred = await asyncio.to_thread(blurred_copy, copy)
    return Response(blurred, media_type="image/jpeg", headers={"Cache-Control": CACHE})


async def _streamed(services: UiServices, key: str, content_type: str) -> Response:
    sizes: list[int] = []
    chunks = services.objects.stream(key, on_size=sizes.append)
    first = await anext(chunks, b"")  # a missing object fails here, before the 200 goes out

    async def rest() -> AsyncIterator[bytes]:
        try:
            yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    headers = {"Content-Length": str(sizes[0]), "Cache-Control": CACHE}  # from the read: one request, no race
    return StreamingResponse(rest(), media_type=content_type, headers=headers)
