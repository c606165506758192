"""The spool: complete uploads waiting for the ingestor, durable across crashes.

A file is received as ``<id>.part``; when complete, its record ``<id>.json`` is written (atomically),
then the file is renamed to ``<id>.data``. At start-up every record with its data is sent again;
leftover ``.part`` files (uploads cut off mid-way, or a crash while receiving) are discarded.
Only after the ingestor has stored or rejected a file is it removed from the spool.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from addax.domain.intake import Arrival, Source

log = logging.getLogger("addax.spool")


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def new_partial(self) -> tuple[str, Path]:
        spool_id = uuid.uuid4().hex
        return spool_id, self.directory / f"{spool_id}.part"

    def data_path(self, arrival: Arrival) -> Path:
        return self.directory / f"{arrival.id}.data"

    def commit(self, partial: Path, arrival: Arrival) -> Arrival:
        """Make a fully received file durable and ready for the ingestor."""
        with partial.open("rb+") as received:
            os.fsync(received.fileno())
        record = self.directory / f"{arrival.id}.json"
        temporary = record.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(dataclasses.asdict(arrival)))
        with temporary.open("rb") as written:
            os.fsync(written.fileno())
        temporary.rename(record)
        partial.rename(self.data_path(arrival))
        self._sync_directory()
        return arrival

    def discard(self, arrival: Arrival) -> None:
        self.data_path(arrival).unlink(missing_ok=True)
        (self.directory / f"{arrival.id}.json").unlink(missing_ok=True)

    def recover(self) -> list[Arrival]:
        """Everything committed but not yet ingested; removes what was never complete.

        Each entry is dealt with on its own: one odd entry (a directory, a damaged record) is set
        aside with a warning and never stops the service from starting.
        """
        for leftover in [*self.directory.glob("*.part"), *self.directory.glob("*.json.tmp")]:
            log.warning("discarding an incomplete upload", extra={"file": leftover.name})
            _remove(leftover)
        pending = []
        for record in sorted(self.directory.glob("*.json"), key=lambda path: path.stat().st_mtime):
            try:
                fields = json.loads(record.read_text())
                arrival = Arrival(**{**fields, "source": Source(fields["source"])})
            except (OSError, ValueError, TypeError, KeyError) as error:
                log.error("setting aside a damaged spool record", extra={"file": record.name, "error": str(error)})
                record.rename(record.with_suffix(".damaged"))
                continue
            if self.data_path(arrival).is_file():
                pending.append(arrival)
            else:
                record.unlink()  # crashed between the record and the rename: the .part was discarded above
        return pending

    def _sync_directory(self) -> None:
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
