"""``addax import`` and ``addax reprocess``: run files through an ingestor inside the CLI process.

Both are safe beside a running service: the (project, sha256) key makes a file that both see
end up once, and neither sends real-time alerts for what it files.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

import asyncpg
from tqdm import tqdm

from addax.actors.ingestor import Ingestor
from addax.config import Config
from addax.domain.intake import Arrival, Source
from addax.store import images, reprocess
from addax.store.objects import FilesystemObjectStore
from addax.store.spool import Spool

WORKERS = 4


def _ingestor(pool: asyncpg.Pool, settings: Config, spool: Spool) -> Ingestor:
    return Ingestor(
        pool=pool,
        spool=spool,
        objects=FilesystemObjectStore(settings.data_path / "objects"),
        max_file_mb=settings.ftp.max_file_mb,
    )


def _sha256(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


async def import_directory(pool: asyncpg.Pool, settings: Config, directory: Path, project_id: int) -> Counter[str]:
    """Every file under ``directory``; what was imported before (same bytes) is skipped."""
    files = sorted(path for path in directory.rglob("*") if path.is_file() and not path.name.startswith("."))
    spool = Spool(settings.data_path / "spool")
    ingestor = _ingestor(pool, settings, spool)
    counts: Counter[str] = Counter()
    with tqdm(total=len(files), unit="file", desc="importing") as progress:

        async def one(path: Path) -> None:
            if await images.find_by_hash(pool, project_id, await asyncio.to_thread(_sha256, path)) is not None:
                counts["already imported"] += 1
                return
            spool_id, partial = spool.new_partial()
            await asyncio.to_thread(shutil.copyfile, path, partial)
            folder = path.parent.relative_to(directory).as_posix()
            arrival = spool.commit(
                partial,
                Arrival(
                    id=spool_id,
                    project_id=project_id,
                    source=Source.IMPORT,
                    original_name=path.name,
                    upload_path="" if folder == "." else folder,
                    account="import",
                    alerts=False,
                ),
            )
            outcome = await ingestor.ingest(arrival)
            counts[outcome.kind if outcome else "skipped"] += 1

        await _in_parallel(files, one, progress)
    return counts


async def reprocess_rejected(pool: asyncpg.Pool, settings: Config, ids: Iterable[int], *, by: str) -> Counter[str]:
    spool, objects = Spool(settings.data_path / "spool"), FilesystemObjectStore(settings.data_path / "objects")
    ingestor = _ingestor(pool, settings, spool)
    counts: Counter[str] = Counter()
    for image_id in ids:
        arrival = await reprocess.release(pool, objects, spool, image_id, by=by)
        if arrival is None:
            counts["not rejected"] += 1
            continue
        outcome = await ingestor.ingest(arrival)
        if outcome is None:
            counts["skipped"] += 1
        else:
            counts[f"{outcome.kind} ({outcome.reason})" if outcome.reason else outcome.kind] += 1
    return counts


async def _in_parallel(files: list[Path], work: Callable[[Path], Awaitable[None]], progress: tqdm) -> None:
    queue: asyncio.Queue[Path] = asyncio.Queue()
    for path in files:
        queue.put_nowait(path)

    async def worker() -> None:
        while not queue.empty():
            await work(queue.get_nowait())
            progress.update(1)

    async with asyncio.TaskGroup() as group:
        for _ in range(WORKERS):
            group.create_task(worker())
