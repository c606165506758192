"""TLS on an FTPS data connection, done here (ssl.MemoryBIO) rather than by the event loop.

Why not the loop's TLS: the end of an upload *is* the end of its data connection, so the server must
know how it ended. A client that finished sends TLS ``close_notify``; a connection cut off by a lost
signal just stops. The loop's TLS transports hide the difference (both are an EOF), and uvloop's drops
records still buffered when the close arrives while reading is paused (uvloop pull request 661),
which truncated curl uploads at 16 KiB boundaries. Here every record received before the close is
decrypted and returned, and the end is reported as it was: ``read`` returns b"" after close_notify
and raises ``CutOff`` when the connection ended without it.

The object also serves aioftp's own data workers (LIST, RETR): ``write`` and ``async with``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from typing import TypeVar, cast

T = TypeVar("T")


class CutOff(ConnectionError):
    """The data connection ended without TLS close_notify: the transfer may be incomplete."""


class TlsDataStream:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        context: ssl.SSLContext,
        *,
        read_bytes: int = 256 * 1024,
        timeout_s: float = 60.0,
    ) -> None:
        self._reader, self._writer = reader, writer
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._read_bytes, self._timeout_s = read_bytes, timeout_s
        self._buffer = memoryview(bytearray(read_bytes))
        self._handshaken = False
        self.ended_cleanly: bool | None = None  # True: close_notify came; False: cut off; None: not yet ended

    async def handshake(self) -> None:
        if not self._handshaken:
            await self._until_done(self._tls.do_handshake)
            self._handshaken = True

    async def read(self) -> bytes:
        """What the client sent since the last read; b"" once it closed with close_notify."""
        await self.handshake()
        if self.ended_cleanly is not None:
            return b""
        try:
            data = await self._until_done(self._read_available)
        except ssl.SSLEOFError:
            self.ended_cleanly = False
            raise CutOff("the data connection ended without TLS close_notify") from None
        if not data:
            self.ended_cleanly = True
        return data

    async def chunks(self, *, lenient: bool = False) -> AsyncIterator[bytes]:
        """Everything the client sends. ``lenient``: an end without close_notify is taken as the end too."""
        while True:
            try:
                data = await self.read()
            except CutOff:
                if lenient:
                    return
                raise
            if not data:
                return
            yield data

    async def write(self, data: bytes) -> None:
        await self.handshake()
        self._tls.write(data)
        self._send_pending()
        await asyncio.wait_for(self._writer.drain(), self._timeout_s)

    async def finish(self) -> None:
        """Close as a well-behaved peer: our close_notify, then the TCP connection."""
        try:
            if self._handshaken:
                try:
                    self._tls.unwrap()
                except (ssl.SSLWantReadError, ssl.SSLError):
                    pass  # the client's close_notify is not needed to end our side
                self._send_pending()
                await asyncio.wait_for(self._writer.drain(), self._timeout_s)
        except (OSError, TimeoutError):
            pass
        finally:
            self.close()

    def close(self) -> None:
        self._writer.close()

    async def __aenter__(self) -> TlsDataStream:
        await self.handshake()  # also when nothing is sent (an empty listing): the client waits for it
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.finish()

    def _read_available(self) -> bytes:
        """All decrypted data at hand (many records); raises SSLWantReadError when there is none yet.

        Records are decrypted into one buffer of our own: a fresh 256 KiB bytes object per 16 KiB record
        would cost an mmap and a munmap each."""
        view = self._buffer
        filled = self._read_into(view)
        if not filled:
            return b""
        try:
            while filled < len(view):
                count = self._read_into(view[filled:])
                if not count:
                    break  # close_notify right after: the next read reports it
                filled += count
        except ssl.SSLWantReadError:
            pass
        return bytes(view[:filled])

    def _read_into(self, view: memoryview) -> int:
        # With a buffer, SSLObject.read returns the number of bytes it wrote there (typeshed says bytes).
        return cast(int, self._tls.read(len(view), view))

    async def _until_done(self, operation: Callable[[], T]) -> T:
        """Run a TLS operation, feeding it bytes from the socket until it has what it needs."""
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._send_pending()  # e.g. the handshake's answer
                await self._receive()
                continue
            self._send_pending()
            return result

    async def _receive(self) -> None:
        data = await asyncio.wait_for(self._reader.read(self._read_bytes), self._timeout_s)
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()  # the TLS layer now tells a clean end from a cut

    def _send_pending(self) -> None:
        pending = self._outgoing.read()
        if pending:
            if self._writer.is_closing():  # the client hung up (uvloop raises on a write to a closed transport)
                raise ConnectionResetError("the data connection is closed")
            self._writer.write(pending)
