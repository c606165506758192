"""``/api/images``: list with filters and cursor pagination, one image's metadata, its file, and its human
verification (``PATCH|DELETE /api/images/{id}/verification``)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.helpers import content_disposition_header

from addax.api.access import int_param, path_id, require_user, respond, time_param, visible_projects
from addax.api.context import SERVICES
from addax.api.errors import json_error
from addax.derivatives import blurred_copy
from addax.domain.verification import VerificationError, parse_verification
from addax.store import accounts, audit, browse, verifications
from addax.store.accounts import ADMIN_ROLES, VERIFYING_ROLES

routes = web.RouteTableDef()

STAGES = {"received", "stored", "detected", "classified", "done", "rejected", "failed"}


@routes.get("/api/images")
async def list_images(request: web.Request) -> web.Response:
    projects = await visible_projects(request, only=int_param(request, "project"))
    limit = int_param(request, "limit", default=50) or 50
    if not 1 <= limit <= 500:
        raise json_error(400, "limit must be between 1 and 500")
    stage = request.query.get("stage") or None
    if stage is not None and stage not in STAGES:
        raise json_error(400, f"stage must be one of {', '.join(sorted(STAGES))}")
    found = await browse.images(
        request.app[SERVICES].pool,
        projects=projects,
        camera=int_param(request, "camera"),
        site=int_param(request, "site"),
        stage=stage,
        since=time_param(request, "since"),
        until=time_param(request, "until"),
        before_id=int_param(request, "cursor"),
        limit=limit,
        label=request.query.get("label") or None,
        species=request.query.get("species") or None,
        verified=_flag(request, "verified"),
    )
    cursor = str(found[-1]["id"]) if len(found) == limit else None
    return respond({"images": found, "next_cursor": cursor})


def _flag(request: web.Request, name: str) -> bool | None:
    text = request.query.get(name, "").lower()
    if text in ("", "any"):
        return None
    if text not in ("1", "true", "0", "false"):
        raise json_error(400, f"{name} must be true or false, got {text!r}")
    return text in ("1", "true")


async def _image(request: web.Request) -> dict[str, Any]:
    found = await browse.image(request.app[SERVICES].pool, path_id(request))
    if found is None:
        raise json_error(404, "no such image")
    await visible_projects(request, only=found["project_id"])
    return found


@routes.get("/api/images/{id}")
async def get_image(request: web.Request) -> web.Response:
    found = await _image(request)
    for key in ("original_key", "thumbnail_key", "annotated_key"):
        found.pop(key)
    return respond(found)


async def _unblur(request: web.Request, found: dict[str, Any]) -> None:
    """The original of a photo with people or vehicles in it is for the project's admins, and audited."""
    user = await require_user(request)
    roles = await accounts.project_roles(request.app[SERVICES].pool, user)
    if roles.get(found["project_id"]) not in ADMIN_ROLES:
        raise json_error(
            403, "this photo shows people or vehicles: ask an admin of its project, or use variant=annotated"
        )
    await audit.record(
        request.app[SERVICES].pool, actor=user.email, action="image.unblur", target=f"image:{found['id']}"
    )


@routes.get("/api/images/{id}/file")
async def get_image_file(request: web.Request) -> web.StreamResponse:
    variant = request.query.get("variant", "original")
    if variant not in ("original", "thumbnail", "annotated"):
        raise json_error(400, "variant must be original, thumbnail or annotated")
    found = await _image(request)
    key, content_type, name = found["original_key"], None, found["original_name"]
    if variant != "original":
        key = found[f"{variant}_key"]
        if key is None:
            raise json_error(404, f"no {variant} of this image yet (made after detection)")
        content_type, name = "image/jpeg", f"{variant}-{found['id']}.jpg"
    elif await browse.shows_people(request.app[SERVICES].pool, found["id"]):
        await _unblur(request, found)
    objects = request.app[SERVICES].objects
    if variant != "original" and found["people_unblurred"]:  # the copy misses someone: blurred whole
        try:
            copy = await objects.read(key)
        except FileNotFoundError:
            raise json_error(404, "the file is missing from the object store") from None
        blurred = await asyncio.to_thread(blurred_copy, copy)
        disposition = content_disposition_header("inline", filename=name)
        return web.Response(body=blurred, content_type="image/jpeg", headers={"Content-Disposition": disposition})
    sizes: list[int] = []
    chunks = objects.stream(key, on_size=sizes.append)  # streamed: a video never sits in memory
    try:  # closed on every path: a store error, a client gone mid-download
        try:
            first = await anext(chunks, b"")  # a missing object fails here, before the 200 goes out
        except FileNotFoundError:
            raise json_error(404, "the file is missing from the object store") from None
        response = web.StreamResponse(
            headers={
                "Content-Type": content_type
                or {"photo": "image/jpeg", "video": "video/mp4"}.get(found["kind"], "application/octet-stream"),
                "Content-Disposition": content_disposition_header("inline", filename=name),
            }
        )
        response.content_length = sizes[0]  # from the read itself: no second request, no race with a rewrite
        await response.prepare(request)
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    finally:
        await chunks.aclose()
    await response.write_eof()
    return response


async def _verifier(request: web.Request) -> tuple[accounts.User, verifications.Subject]:
    """The caller and the photo, when the caller may verify the photos of its project (404, else 403)."""
    pool = request.app[SERVICES].pool
    user = await require_user(request)
    subject = await verifications.subject(pool, path_id(request))
    if subject is None:
        raise json_error(404, "no such image")
    role = (await accounts.project_roles(pool, user)).get(subject.project_id)
    if role is None:
        raise json_error(403, f"no access to project {subject.project_id}")
    if role not in VERIFYING_ROLES:
        raise json_error(403, "only an annotator or an admin of the project may verify its photos")
    return user, subject


@routes.patch("/api/images/{id}/verification")
async def verify_image(request: web.Request) -> web.Response:
    user, subject = await _verifier(request)
    try:
        body = await request.json()
    except ValueError:
        raise json_error(400, "the body must be JSON", field="body") from None
    try:
        verification = parse_verification(body, subject.boxes, threshold=subject.threshold)
    except VerificationError as error:
        raise json_error(400, str(error), field=error.field) from None
    return respond(await verifications.save(request.app[SERVICES].pool, subject.image_id, verification, by=user))


@routes.delete("/api/images/{id}/verification")
async def unverify_image(request: web.Request) -> web.Response:
    user, subject = await _verifier(request)
    cleared = await verifications.clear(request.app[SERVICES].pool, subject.image_id, by=user)
    return respond({"cleared": cleared})
