"""``addax import camtrap-dp PACKAGE --project P [--as EMAIL] [--skip-invalid]``: a Camtrap DP package made
elsewhere loaded into a project, with progress bars on standard error and a summary at the end."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from tqdm import tqdm

from addax.actors.inspection import inspect_file
from addax.config import Config
from addax.derivatives import Shown, render
from addax.domain.camtrap_package import PackageError
from addax.domain.media import EXTENSIONS, VIDEO_TYPES, MediaType
from addax.object_storage import open_objects
from addax.store import accounts
from addax.store.camtrap_check import Tick
from addax.store.camtrap_import import ImportRefused, Looked, import_package
from addax.store.camtrap_observations import Box

__all__ = ["ImportRefused", "MediaInspector", "PackageError", "derivatives", "import_camtrap_dp"]

MAX_PIXELS = 100_000_000  # the ingestor's limit (addax.actors.ingestor.Ingestor's max_pixels)

Database = Callable[[Config], AbstractAsyncContextManager[asyncpg.Pool]]


async def import_camtrap_dp(
    settings: Config,
    database: Database,
    package: Path,
    *,
    project: str,
    as_email: str | None,
    skip_invalid: bool,
    actor: str,
) -> int:
    """The command's body; ``database`` opens the migrated pool as the other CLI commands do."""
    bars: list[tqdm] = []

    def progress(what: str, total: int | None) -> Tick:
        bar = tqdm(total=total, desc=what, unit=" rows", file=sys.stderr, leave=False, disable=None)
        bars.append(bar)
        return lambda: bar.update()

    try:
        async with database(settings) as pool, open_objects(settings) as objects:
            project_id = await accounts.project_id(pool, project)
            verifier = await _verifier(pool, as_email, project_id, project) if as_email else None
            tally = await import_package(
                pool,
                objects,
                package,
                project_id=project_id,
                verifier_id=verifier,
                actor=actor,
                skip_invalid=skip_invalid,
                progress=progress,
                render=derivatives,
                inspect=MediaInspector(max_bytes=settings.ftp.max_file_mb * 2**20),
            )
    finally:
        for bar in bars:
            bar.close()
    print(tally.summary())
    return 0


async def _verifier(pool: asyncpg.Pool, email: str, project_id: int, project: str) -> int:
    """The user ``--as`` names, when they may verify the project's photos (the verifications are in their name)."""
    user = await accounts.find_user(pool, email)
    if user is None:
        raise accounts.AccountError(f"no user {email!r} (see `addax user add`)")
    role = (await accounts.project_roles(pool, user)).get(project_id)
    if user.disabled or role not in accounts.VERIFYING_ROLES:
        raise accounts.AccountError(
            f"--as {email}: not a project-admin or annotator of {project!r}, so cannot verify its photos"
        )
    return user.id


def derivatives(data: bytes, boxes: Sequence[Box], threshold: float) -> tuple[bytes, bytes]:
    """Thumbnail and annotated copy of an imported photo, as the finisher draws them (people blurred)."""
    shown = [Shown(*box) for box in boxes]
    drawn = [box for box in shown if box.score >= threshold]
    made = render(data, private=shown, drawn=drawn, max_pixels=MAX_PIXELS)
    return made.thumbnail, made.annotated


@dataclass(frozen=True, slots=True)
class MediaInspector:
    """Intake's inspection (addax.actors.inspection, the ingestor's) for the media files of a package, with the
    same limits: what it would refuse from a camera is refused from a package, and a text file is not a photo."""

    max_bytes: int
    max_pixels: int = MAX_PIXELS

    def __call__(self, path: Path) -> Looked:
        facts = inspect_file(path, max_bytes=self.max_bytes, max_pixels=self.max_pixels)
        if facts.reason is not None:
            return Looked(f"{facts.reason}: {facts.detail}"[:200])
        if facts.media is None or facts.media is MediaType.TEXT:
            return Looked("neither a photo nor a video")
        if facts.media in VIDEO_TYPES:
            size = facts.video
            return Looked(None, "video", EXTENSIONS[facts.media], size.get("width"), size.get("height"))
        return Looked(None, "photo", EXTENSIONS[facts.media], facts.width, facts.height)
