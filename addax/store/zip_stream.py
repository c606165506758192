"""A zip archive written as a stream: entries one after another, each fed in chunks, out through an async sink.

``zipfile`` does the format (data descriptors, ZIP64 when needed) on a sink it cannot seek; its compression
runs in a worker thread, and what it wrote is handed to the async sink (a file, an HTTP response) between
chunks, so memory holds one chunk and its compressed bytes, whatever the size of the archive.
"""

from __future__ import annotations

import asyncio
import zipfile
from collections.abc import AsyncIterable, Awaitable, Callable
from datetime import datetime

Sink = Callable[[bytes], Awaitable[object]]

_ZIP64_FROM = 1 << 31  # an entry that may grow past this is written with ZIP64 sizes


class _Pending:
    """What zipfile has written and the sink not yet taken. No ``tell``/``seek``: zipfile streams."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


class ZipStream:
    """``async with ZipStream(sink) as archive: await archive.add(name, chunks)``; closing writes the directory."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._pending = _Pending()
        self._zip = zipfile.ZipFile(self._pending, "w")
        self.entries = 0

    async def __aenter__(self) -> ZipStream:
        return self

    async def __aexit__(self, kind: object, error: object, trace: object) -> None:
        if error is None:
            await asyncio.to_thread(self._zip.close)
            await self._drain()

    async def add(
        self, name: str, chunks: AsyncIterable[bytes], *, compress: bool = True, size_hint: int | None = None
    ) -> int:
        """Write one entry from ``chunks``; returns its size. ``size_hint``: how big it may get (for ZIP64)."""
        info = zipfile.ZipInfo(name, date_time=datetime.now().timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        large = size_hint is None or size_hint >= _ZIP64_FROM
        writer = self._zip.open(info, "w", force_zip64=large)
        written = 0
        try:
            async for chunk in chunks:
                await asyncio.to_thread(writer.write, chunk)
                written += len(chunk)
                await self._drain()
        finally:
            await asyncio.to_thread(writer.close)
        await self._drain()
        self.entries += 1
        return written

    async def _drain(self) -> None:
        if data := self._pending.take():
            await self._sink(data)
