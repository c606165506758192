"""The one way a file comes in, whatever brought it (FTPS, HTTPS upload, import, reprocess).

::

    chunks ──► spool/<id>.part ──(size limit, free disk checked as it grows)──► complete?
                     │ cut off, too large, disk full: removed, the caller answers the sender
                     ▼
               commit: fsync (off the event loop), record, rename ──► deliver to the ingestor ──► caller says "done"

The caller answers its sender only after ``commit`` returned: from then on the file survives a crash.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import shutil
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import BinaryIO

from addax.domain.intake import Arrival, Origin
from addax.store.spool import Partial, Spool

log = logging.getLogger("addax.receiving")

Deliver = Callable[[Arrival], Awaitable[None]]

FREE_SPACE_EVERY_BYTES = 8 * 2**20  # how often a growing file checks the disk


class FileTooLarge(Exception):
    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"file exceeds the limit of {limit_bytes // 2**20} MB")
        self.limit_bytes = limit_bytes


class DiskFull(Exception):
    def __init__(self) -> None:
        super().__init__("insufficient storage space on the server; try again later")


class Receiver:
    def __init__(self, *, spool: Spool, deliver: Deliver, max_bytes: int | None, min_free_bytes: int) -> None:
        self.spool = spool
        self._deliver = deliver
        self.max_bytes, self._min_free_bytes = max_bytes, min_free_bytes

    def check_free_space(self, *, more_bytes: int = 0) -> None:
        """Raise DiskFull when the spool's disk is (or, with ``more_bytes`` written, would be) nearly full."""
        if shutil.disk_usage(self.spool.directory).free - more_bytes < self._min_free_bytes:
            log.error("refusing a file: disk nearly full", extra={"dir": str(self.spool.directory)})
            raise DiskFull

    async def receive(self, chunks: AsyncIterable[bytes], origin: Origin) -> Arrival:
        """Take the whole file, make it durable and hand it to the ingestor."""
        partial = await self.take(chunks)
        return await self.commit(partial, origin)

    async def take(self, chunks: AsyncIterable[bytes]) -> Partial:
        """The file received into the spool but not yet committed; removed again if anything goes wrong."""
        self.check_free_space()
        partial = self.spool.new_partial()
        try:
            checked = 0
            async for chunk in chunks:
                partial.write(chunk)
                if self.max_bytes is not None and partial.size > self.max_bytes:
                    raise FileTooLarge(self.max_bytes)
                if partial.size - checked >= FREE_SPACE_EVERY_BYTES:
                    checked = partial.size
                    self.check_free_space()
        except OSError as error:
            partial.abandon()
            if error.errno in (errno.ENOSPC, errno.EDQUOT):  # full before our own margin said so
                raise DiskFull from error
            raise
        except BaseException:
            partial.abandon()
            raise
        return partial

    async def take_copy(self, copy: Callable[[BinaryIO], None], *, size: int) -> Partial:
        """A file copied in by ``copy`` (in a worker thread), e.g. from a local directory or the object store."""
        self.check_free_space(more_bytes=size)
        partial = self.spool.new_partial()
        try:
            await asyncio.to_thread(copy, partial.file)
            partial.size = size
        except BaseException:
            partial.abandon()
            raise
        return partial

    async def take_chunks(self, chunks: AsyncIterator[bytes], *, size: int) -> Partial:
        """A file copied in from a stream of chunks, e.g. an object read back from the store."""
        self.check_free_space(more_bytes=size)
        partial = self.spool.new_partial()
        try:
            written = 0
            async for chunk in chunks:
                await asyncio.to_thread(partial.file.write, chunk)
                written += len(chunk)
            partial.size = written
        except BaseException:
            partial.abandon()
            raise
        return partial

    async def commit(self, partial: Partial, origin: Origin) -> Arrival:
        """Durable first, then delivered (waiting while the ingestor is busy: backpressure up to the sender)."""
        arrival = await self.persist(partial, origin)
        await self.deliver(arrival)
        return arrival

    async def deliver(self, arrival: Arrival) -> None:
        """Hand a persisted entry to the ingestor. If this is cancelled (the sender went away), the entry
        stays in the spool unclaimed, and the ingestor's next sweep takes it up: never lost, never waiting
        for a restart."""
        try:
            await self._deliver(arrival)
        except BaseException:
            self.spool.release(arrival)
            raise

    async def persist(self, partial: Partial, origin: Origin) -> Arrival:
        """Make the file durable in the spool, claimed by this process, not yet handed on."""
        arrival = origin.arrived(partial.id)
        committing = asyncio.ensure_future(asyncio.to_thread(self.spool.commit, partial, arrival))
        try:
            await asyncio.shield(committing)  # a thread cannot be stopped halfway: let it finish either way
        except asyncio.CancelledError:
            committing.add_done_callback(lambda _: self._after_cancelled_commit(committing, partial, arrival))
            raise
        except BaseException:
            partial.abandon()
            raise
        return arrival

    def _after_cancelled_commit(self, committing: asyncio.Future[None], partial: Partial, arrival: Arrival) -> None:
        if committing.exception() is None:
            self.spool.release(arrival)  # complete and durable: a sweep delivers it
        else:
            partial.abandon()
