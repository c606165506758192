"""``addax import camtrap-dp PACKAGE --project P [--as EMAIL] [--skip-invalid]``: a Camtrap DP package made
elsewhere loaded into a project, with progress bars on standard error and a summary at the end."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import asyncpg
from tqdm import tqdm

from addax.config import Config
from addax.derivatives import Shown, render
from addax.domain.camtrap_package import PackageError
from addax.object_storage import open_objects
from addax.store import accounts
from addax.store.camtrap_check import Tick
from addax.store.camtrap_import import ImportRefused, import_package
from addax.store.camtrap_observations import Box

__all__ = ["ImportRefused", "PackageError", "derivatives", "import_camtrap_dp"]

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
            verifier = await accounts.user_id(pool, as_email) if as_email else None
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
            )
    finally:
        for bar in bars:
            bar.close()
    print(tally.summary())
    return 0


def derivatives(data: bytes, boxes: Sequence[Box], threshold: float) -> tuple[bytes, bytes]:
    """Thumbnail and annotated copy of an imported photo, as the finisher draws them (people blurred)."""
    shown = [Shown(*box) for box in boxes]
    drawn = [box for box in shown if box.score >= threshold]
    made = render(data, private=shown, drawn=drawn, max_pixels=100_000_000)
    return made.thumbnail, made.annotated
