"""The spool: complete files waiting for the ingestor, durable across crashes, shared by processes.

Per entry ``<id>``::

    <id>.part      being received (locked by the receiving process), discarded if it is never completed
    <id>.json      the arrival record, written atomically once the file is complete
    <id>.data      the file, renamed from .part after the record: an entry exists once both are there
    <id>.attempts  how many times the ingestor began on it, and how the last attempt ended

A process that holds an entry in hand (received and not yet handed on, waiting in a mailbox, being
ingested) holds an exclusive ``flock`` on its record: a *claim*. Whoever finds an entry unclaimed
(``claim_unclaimed``) may take it: a delivery that was cancelled, an entry of a process that died, a
second process (``addax import`` beside ``addax run``) never takes what another one holds. The
kernel drops the locks of a process that dies, so nothing stays claimed by the dead.

Entries the ingestor could not read at all are moved to ``quarantine/`` with the error.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from addax.domain.intake import Arrival, Source

log = logging.getLogger("addax.spool")


@dataclass(frozen=True, slots=True)
class Attempts:
    count: int  # attempts begun on the entry, the current one included
    last_error: str  # how the one before ended ("" if there was none)


class Partial:
    """A file being received into the spool, locked by this process until it is committed or abandoned."""

    def __init__(self, spool_id: str, path: Path, file: BinaryIO) -> None:
        self.id, self.path, self.file = spool_id, path, file
        self.size = 0

    def write(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)

    def abandon(self) -> None:
        """Throw away what was received (cut off, too large, or no longer wanted)."""
        self.path.unlink(missing_ok=True)
        self.file.close()

    def keep_as(self, target: Path) -> None:
        """Move the received file out of the spool (an FTP upload under a temporary name waits in its home)."""
        self.path.rename(target)  # still locked while in the spool: no sweep takes it for a leftover
        self.file.close()


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.quarantine = directory / "quarantine"
        self._claims: dict[str, BinaryIO] = {}  # spool id -> open, flocked record of an entry in hand

    def new_partial(self) -> Partial:
        spool_id = uuid.uuid4().hex
        path = self.directory / f"{spool_id}.part"
        return Partial(spool_id, path, _locked(path, mode="xb"))

    def adopt(self, path: Path) -> Partial:
        """Take an existing file (on the same file system) into the spool as a complete partial."""
        handle = _locked(path, mode="rb+")  # locked before it is in the spool: no sweep may take it for a leftover
        spool_id = uuid.uuid4().hex
        target = self.directory / f"{spool_id}.part"
        try:
            path.rename(target)
        except BaseException:
            handle.close()
            raise
        partial = Partial(spool_id, target, handle)
        partial.size = target.stat().st_size
        return partial

    def data_path(self, arrival: Arrival) -> Path:
        return self.directory / f"{arrival.id}.data"

    def _record(self, spool_id: str) -> Path:
        return self.directory / f"{spool_id}.json"

    def commit(self, partial: Partial, arrival: Arrival) -> None:
        """Make a fully received file durable and ready for the ingestor; this process keeps it claimed."""
        assert partial.id == arrival.id
        partial.file.flush()
        os.fsync(partial.file.fileno())
        record = self._record(arrival.id)
        temporary = record.with_suffix(".json.tmp")
        claim = _locked(temporary, mode="wb")  # the claim is held from the record's first byte on
        try:
            claim.write(json.dumps(dataclasses.asdict(arrival)).encode())
            claim.flush()
            os.fsync(claim.fileno())
            temporary.rename(record)
        except BaseException:
            temporary.unlink(missing_ok=True)
            claim.close()
            raise
        self._claims[arrival.id] = claim
        partial.path.rename(self.data_path(arrival))
        partial.file.close()
        self._sync_directory()

    def release(self, arrival: Arrival) -> None:
        """Let go of an entry without finishing it: a sweep (of any process) will take it up."""
        claim = self._claims.pop(arrival.id, None)
        if claim is not None:
            claim.close()

    def discard(self, arrival: Arrival) -> None:
        """The entry is done with: stored, rejected or a duplicate."""
        self.data_path(arrival).unlink(missing_ok=True)
        (self.directory / f"{arrival.id}.attempts").unlink(missing_ok=True)
        self._record(arrival.id).unlink(missing_ok=True)
        self.release(arrival)

    def claim_unclaimed(self) -> list[Arrival]:
        """Entries that nobody holds, oldest first, now claimed by this process; odd ones are set aside."""
        found = []
        for record in sorted(self.directory.glob("*.json"), key=_age):
            spool_id = record.stem
            if spool_id in self._claims:
                continue
            try:
                claim = _locked(record)
            except (BlockingIOError, FileNotFoundError):
                continue  # another process holds it, or finished it just now
            arrival = self._read(record)
            if arrival is None or not self.data_path(arrival).is_file():
                claim.close()
                if arrival is not None:
                    record.unlink(missing_ok=True)  # the process crashed between the record and the rename
                continue
            self._claims[spool_id] = claim
            found.append(arrival)
        return found

    def clear_leftovers(self) -> None:
        """Remove what was never completed by a process that is gone (a receiving one holds its locks)."""
        for leftover in [*self.directory.glob("*.part"), *self.directory.glob("*.json.tmp")]:
            if leftover.is_dir() and not leftover.is_symlink():
                log.warning("removing a directory from the spool", extra={"file": leftover.name})
                shutil.rmtree(leftover, ignore_errors=True)
                continue
            try:
                with _locked(leftover):
                    log.warning("discarding an incomplete upload", extra={"file": leftover.name})
                    leftover.unlink(missing_ok=True)
            except (BlockingIOError, FileNotFoundError):
                continue  # still being received or committed, or gone meanwhile
            except OSError as error:
                log.error("cannot remove a spool leftover", extra={"file": leftover.name, "error": str(error)})
        for attempts in self.directory.glob("*.attempts"):
            if not self._record(attempts.stem).exists():
                attempts.unlink(missing_ok=True)

    # -- attempts: counted on disk, so that a file that crashes the process is not fed to it forever ----

    def begin_attempt(self, arrival: Arrival) -> Attempts:
        previous = self._attempts(arrival)
        count = previous.count + 1
        # Written before the work starts: if the process dies during it, this is what the next one reads.
        self._write_attempts(arrival, count, f"the process stopped during attempt {count}")
        return Attempts(count, previous.last_error)

    def end_attempt(self, arrival: Arrival, *, error: str, count: int) -> None:
        """An attempt failed with ``error``; ``count`` is how many attempts count against the file from now on
        (one less after an outage or a shutdown, which are not the file's doing)."""
        self._write_attempts(arrival, max(0, count), error)

    def _attempts(self, arrival: Arrival) -> Attempts:
        try:
            fields = json.loads((self.directory / f"{arrival.id}.attempts").read_text())
            return Attempts(int(fields["count"]), str(fields["last_error"]))
        except (OSError, ValueError, KeyError, TypeError):
            return Attempts(0, "")

    def _write_attempts(self, arrival: Arrival, count: int, last_error: str) -> None:
        # No fsync: the count must survive a crash of the process, which the page cache does.
        (self.directory / f"{arrival.id}.attempts").write_text(json.dumps({"count": count, "last_error": last_error}))

    def set_aside(self, arrival: Arrival, error: str) -> Path:
        """Move an entry that cannot be read at all to quarantine/<id>/, with the error, for an admin."""
        target = self.quarantine / arrival.id
        target.mkdir(parents=True, exist_ok=True)
        for path in self.directory.glob(f"{arrival.id}.*"):
            path.rename(target / path.name)
        (target / "error.txt").write_text(error + "\n")
        self.release(arrival)
        return target

    def _read(self, record: Path) -> Arrival | None:
        try:
            fields = json.loads(record.read_text())
            return Arrival(**{**fields, "source": Source(fields["source"])})
        except (OSError, ValueError, TypeError, KeyError) as error:
            log.error("setting aside a damaged spool record", extra={"file": record.name, "error": str(error)})
            record.rename(record.with_suffix(".damaged"))
            return None

    def _sync_directory(self) -> None:
        descriptor = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _locked(path: Path, *, mode: str = "rb") -> BinaryIO:
    """``path`` opened and exclusively flocked by this process; BlockingIOError if someone else holds it."""
    handle: BinaryIO = path.open(mode)  # type: ignore[assignment]
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        handle.close()
        raise
    return handle


def _age(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
