"""``addax import`` and ``addax reprocess``: files through an ingestor of the CLI's own, under the same
failure policy as the service (a bad file is a rejection with its reason, never an abort).

Both are safe beside a running service: each process ingests only the spool entries it claimed, the
(project, sha256) key makes a file that both see end up once, and neither sends real-time alerts. A
run that is interrupted leaves its committed files in the spool, where the service takes them up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import asyncpg
from tqdm import tqdm

from addax.actors.ingestor import Ingestor, Outcome
from addax.actors.inspection import file_digest
from addax.config import Config
from addax.domain.intake import Arrival, Origin, Source
from addax.object_storage import open_objects
from addax.runtime import Supervisor
from addax.store import images, reprocess
from addax.store.receiving import Receiver
from addax.store.spool import Spool

log = logging.getLogger("addax.backfill")

COPIES_AT_ONCE = 4


class Tally:
    """What became of every file handed to the ingestor; ``settled`` waits until each has an outcome."""

    def __init__(self, progress: tqdm | None = None) -> None:
        self.counts: Counter[str] = Counter()
        self.handed_over = 0
        self._outcomes = 0
        self._progress = progress
        self._changed = asyncio.Event()

    def count(self, what: str) -> None:
        self.counts[what] += 1
        if self._progress is not None:
            self._progress.update(1)

    def observe(self, arrival: Arrival, outcome: Outcome) -> None:
        self.count(f"rejected: {outcome.reason}" if outcome.kind == "rejected" else outcome.kind)
        self._outcomes += 1
        self._changed.set()

    async def settled(self) -> None:
        while self._outcomes < self.handed_over:
            self._changed.clear()
            await self._changed.wait()

    def summary(self) -> str:
        names = {"stored": "imported", "duplicate": "duplicates", "report": "status reports", "set_aside": "set aside"}
        plain = [f"{count} {names.get(kind, kind)}" for kind, count in sorted(self.counts.items()) if ":" not in kind]
        rejected = {kind.split(": ", 1)[1]: count for kind, count in self.counts.items() if ":" in kind}
        lines = [", ".join(plain) or "nothing to do"]
        if rejected:
            reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(rejected.items()))
            lines.append(f"{sum(rejected.values())} rejected: {reasons} (see GET /api/rejections)")
        return "\n".join(lines)


@contextlib.asynccontextmanager
async def cli_intake(pool: asyncpg.Pool, settings: Config, tally: Tally) -> AsyncIterator[Receiver]:
    """An ingestor in this process and the receiver that feeds it; leaving waits for every outcome."""
    spool = Spool(settings.data_path / "spool")
    async with open_objects(settings) as objects, Supervisor(stop_timeout=60) as supervisor:
        ingestor = Ingestor(
            pool=pool,
            spool=spool,
            objects=objects,
            max_file_mb=settings.ftp.max_file_mb,
            sweep_every_s=None,  # the service's spool sweeps are the service's business
            observe=tally.observe,
        )
        await supervisor.start(ingestor)

        async def deliver(arrival: Arrival) -> None:
            await ingestor.send(arrival)
            tally.handed_over += 1

        # No size limit here: a file over the limit becomes a 'too_large' rejection, kept like any other.
        yield Receiver(spool=spool, deliver=deliver, max_bytes=None, min_free_bytes=settings.ftp.min_free_mb * 2**20)
        await tally.settled()


async def import_directory(pool: asyncpg.Pool, settings: Config, directory: Path, project_id: int) -> Tally:
    """Every file under ``directory``; what was imported before (same bytes) is skipped without a copy."""
    files = sorted(path for path in directory.rglob("*") if path.is_file() and not path.name.startswith("."))
    with tqdm(total=len(files), unit="file", desc="importing") as progress:
        tally = Tally(progress)
        async with cli_intake(pool, settings, tally) as receiver:

            async def one(path: Path) -> None:
                try:
                    sha256, _ = await asyncio.to_thread(file_digest, path)
                    if await images.find_by_hash(pool, project_id, sha256) is not None:
                        tally.count("already imported")
                        return

                    def copy(writer: BinaryIO) -> None:
                        with path.open("rb") as reader:
                            shutil.copyfileobj(reader, writer, 1 << 20)

                    partial = await receiver.take_copy(copy, size=path.stat().st_size)
                except OSError as error:  # a file of the card we cannot read: say so, go on with the rest
                    log.warning("cannot read a file to import", extra={"file": str(path), "error": str(error)})
                    tally.count("unreadable (see the log)")
                    return
                folder = path.parent.relative_to(directory).as_posix()
                origin = Origin(
                    project_id=project_id,
                    source=Source.IMPORT,
                    original_name=path.name,
                    upload_path="" if folder == "." else folder,
                    account="import",
                    alerts=False,
                )
                await receiver.commit(partial, origin)

            await _each(files, one)
    return tally


async def reprocess_rejected(pool: asyncpg.Pool, settings: Config, ids: Iterable[int], *, by: str) -> Tally:
    tally = Tally()
    async with open_objects(settings) as objects, cli_intake(pool, settings, tally) as receiver:
        for image_id in ids:
            if await reprocess.release(pool, objects, receiver, image_id, by=by) is None:
                tally.count("not rejected")
    return tally


async def _each(files: list[Path], work: Callable[[Path], Awaitable[None]]) -> None:
    queue: asyncio.Queue[Path] = asyncio.Queue()
    for path in files:
        queue.put_nowait(path)

    async def worker() -> None:
        while not queue.empty():
            await work(queue.get_nowait())

    async with asyncio.TaskGroup() as group:
        for _ in range(COPIES_AT_ONCE):
            group.create_task(worker())
