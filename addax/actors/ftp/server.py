# mypy: disable-error-code="arg-type"
# (aioftp types its command decorators for its own Server class, not for subclasses.)
"""The FTPS server cameras upload to: aioftp's commands, our session loop, our data-connection TLS.

Per connection, one command at a time, in the order sent (pipelined lines wait their turn)::

    connect (421 when the server or this address has too many) ─► 220
      AUTH TLS ─► USER ─► PASS (shared lockout; closed after 3 failures) ─► account and project bound for good
      PBSZ 0 / PROT P ─► PASV ─► STOR name ─► 150
         data connection: only from the camera's address, TLS done by data.TlsDataStream
         every byte into the spool (store.receiving): size limit, free disk checked as it grows
         ended with close_notify ─► committed, handed to the ingestor ─► 226
         cut off (no close_notify), too large, disk full ─► discarded ─► 426 / 552 / 452
    no login within ``login_timeout_s``, or silence for ``idle_timeout_s`` ─► 421, closed

A second USER after a login is refused: the session keeps the account it proved. A file sent
under a temporary name (``.IMG_1.JPG.tmp``) waits in the account's home for its RNFR/RNTO.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import aioftp
from aioftp import errors
from aioftp.common import Connection, StreamIO
from aioftp.server import ConnectionConditions, PathPermissions

from addax.actors.ftp.data import CutOff, TlsDataStream
from addax.domain.intake import Origin, Source
from addax.store.accounts import UploadAccount
from addax.store.logins import LoginGuard, LoginRefused
from addax.store.receiving import DiskFull, FileTooLarge, Receiver

log = logging.getLogger("addax.ftp")

ACCOUNT_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,64}$")
TEMPORARY_NAME = re.compile(r"(^\.|\.(tmp|part|filepart|partial|upload)$|^~)", re.IGNORECASE)
MAX_LINE_BYTES = 4096
LOGINS_PER_SESSION = 3  # failed logins before the connection is closed (as vsftpd's max_login_fails)


AccountLookup = Callable[[str], Awaitable[UploadAccount | None]]  # an enabled account by name


@dataclass(frozen=True, slots=True)
class SessionLimits:
    max_connections: int = 50
    max_per_address: int = 16  # cameras behind one carrier-grade NAT share an address
    login_timeout_s: float = 30.0
    idle_timeout_s: float = 300.0
    data_timeout_s: float = 60.0  # a data connection silent this long is cut off
    require_close_notify: bool = True  # an upload must end with TLS close_notify to count as complete


def _uses_tls(connection: Connection) -> bool:
    return connection.command_connection.writer.transport.get_extra_info("ssl_object") is not None


class CameraFtpServer(aioftp.Server):
    def __init__(
        self,
        *,
        tls: ssl.SSLContext,
        data_tls: ssl.SSLContext,
        homes: Path,
        receiver: Receiver,
        accounts: AccountLookup,
        logins: LoginGuard,
        limits: SessionLimits,
        **kwargs: Any,
    ) -> None:
        # ssl=None: the control connection starts in the clear (explicit TLS), data connections do TLS themselves.
        super().__init__(ssl=None, wait_future_timeout=limits.data_timeout_s, **kwargs)
        self._tls, self._data_tls, self._homes, self._receiver = tls, data_tls, homes, receiver
        # No TLS 1.3 session tickets on data connections: an uploading client never reads them, and a
        # socket closed with unread data is reset, which destroys the last records of the upload.
        data_tls.num_tickets = 0
        self._accounts, self._logins, self._limits = accounts, logins, limits
        self._per_address: Counter[str] = Counter()
        self.commands_mapping.update(auth=self.auth, noop=self.noop, feat=self.feat)

    # -- sessions -------------------------------------------------------------------------------

    async def dispatcher(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port, *_ = writer.transport.get_extra_info("peername", ("", 0))
        refusal = self._admission(host)
        if refusal is not None:
            log.warning("connection refused", extra={"address": host, "reason": refusal})
            writer.write(f"421 {refusal}\r\n".encode())
            writer.close()
            return
        self._per_address[host] += 1
        try:
            await self._session(reader, writer, host, port)
        except asyncio.CancelledError:
            # The server is closing. This task is asyncio's connection callback: ending it quietly spares the
            # loop's "exception in callback" report; nothing else awaits its result.
            pass
        finally:
            self._per_address[host] -= 1
            if not self._per_address[host]:
                del self._per_address[host]

    def _admission(self, host: str) -> str | None:
        if sum(self._per_address.values()) >= self._limits.max_connections:
            return "too many connections; try again later"
        if self._per_address[host] >= self._limits.max_per_address:
            return "too many connections from your address; try again later"
        return None

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int) -> None:
        stream = StreamIO(reader, writer, write_timeout=self.socket_timeout)
        responses: asyncio.Queue[Any] = asyncio.Queue()
        connection = Connection(
            client_host=host,
            client_port=port,
            server_host=writer.transport.get_extra_info("sockname")[0],
            passive_server_port=0,
            server_port=self.server_port,
            command_connection=stream,
            socket_timeout=self.socket_timeout,
            idle_timeout=self._limits.idle_timeout_s,
            wait_future_timeout=self.wait_future_timeout,
            block_size=self.block_size,
            path_io_factory=self.path_io_factory,
            path_timeout=self.path_timeout,
            extra_workers=set(),
            response=lambda *args: responses.put_nowait(args),
            acquired=False,
            restart_offset=0,
            _dispatcher=asyncio.current_task(),
        )
        connection.path_io = self.path_io_factory(timeout=self.path_timeout, connection=connection)
        self.connections[stream] = connection
        try:
            async with asyncio.TaskGroup() as group:
                replies = group.create_task(self.response_writer(stream, responses))
                connection.response("220", self.welcome_message)
                try:
                    await self._commands(connection, stream)
                    async with asyncio.timeout(self.socket_timeout):
                        await responses.join()  # the last answers reach the client before the close
                finally:
                    replies.cancel()
        except* (OSError, TimeoutError):
            pass  # the client went away
        finally:
            self._end_session(connection, stream)

    async def _commands(self, connection: Connection, stream: StreamIO) -> None:
        loop = asyncio.get_running_loop()
        login_deadline = loop.time() + self._limits.login_timeout_s
        while True:
            logged = connection.future.logged.done()
            wait = self._limits.idle_timeout_s if logged else login_deadline - loop.time()
            try:
                async with asyncio.timeout(max(wait, 0)):
                    line = await stream.reader.readline()
            except TimeoutError:
                connection.response("421", "idle time-out" if logged else "log in sooner: login time-out")
                return
            except (ValueError, ConnectionError):  # a line over the reader's limit, or a reset
                return
            if len(line) > MAX_LINE_BYTES:
                connection.response("500", "command line too long")
                return
            if not line.endswith(b"\n"):
                return  # the client closed the connection
            command, _, rest = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
            if not await self._run(connection, command.lower(), rest):
                return

    async def _run(self, connection: Connection, command: str, rest: str) -> bool:
        """One command, including any transfer it starts: the next is read only when this one is done."""
        handler = self.commands_mapping.get(command)
        if handler is None:
            connection.response("502", f"{command[:20]!r} not implemented")
            return True
        if command not in ("retr", "stor", "appe"):
            connection.restart_offset = 0
        try:
            keep_going = await handler(connection, rest)
            while connection.extra_workers:  # aioftp's own transfers (LIST, RETR) run as workers
                worker = connection.extra_workers.pop()
                await worker
        except errors.PathIOError:
            connection.response("451", "file system error")
            return True
        except ConnectionError:
            raise  # the client is gone
        except Exception:
            log.exception("FTP command failed", extra={"command": command, "address": connection.client_host})
            connection.response("451", "local error in processing")
            return True
        return bool(keep_going)

    def _end_session(self, connection: Connection, stream: StreamIO) -> None:
        for worker in connection.extra_workers:
            worker.cancel()
        if connection.future.passive_server.done():
            connection.passive_server.close()
            if self.available_data_ports is not None:
                self.available_data_ports.put_nowait((0, connection.passive_server_port))
        if connection.future.data_connection.done():
            connection.data_connection.close()
        stream.close()
        self.connections.pop(stream, None)

    # -- login ----------------------------------------------------------------------------------

    async def auth(self, connection: Connection, rest: str) -> bool:
        if rest.strip().upper() not in ("TLS", "SSL", "TLS-C"):
            connection.response("504", "only AUTH TLS is supported")
            return True
        if _uses_tls(connection):
            connection.response("503", "TLS is already on")
            return True
        writer = connection.command_connection.writer
        # Write the answer and hand the socket to TLS without yielding, so the client's
        # handshake bytes can never be read as a command.
        writer.write(b"234 AUTH TLS successful\r\n")
        protocol = writer.transport.get_protocol()
        try:
            transport = await asyncio.get_running_loop().start_tls(
                writer.transport, protocol, self._tls, server_side=True
            )
        except (OSError, ssl.SSLError) as error:
            log.info("TLS handshake failed", extra={"address": connection.client_host, "error": str(error)})
            return False
        writer._transport = transport  # what StreamWriter.start_tls does, which cannot be used without yielding
        protocol._replace_writer(writer)
        return True

    async def user(self, connection: Connection, rest: str) -> bool:
        if not _uses_tls(connection):
            connection.response("530", "TLS required: send AUTH TLS first")
        elif connection.future.logged.done():
            connection.response("503", "already logged in; connect again to log in as another account")
        elif not ACCOUNT_NAME.match(rest.strip()):
            connection.response("530", "invalid account name")
        else:  # every well-formed name gets a password prompt, so probing cannot tell which accounts exist
            name = rest.strip()
            connection.user = aioftp.User(login=name, base_path=self._homes / name, home_path="/")
            connection.current_directory = PurePosixPath("/")
            connection.response("331", "password required")
        return True

    @ConnectionConditions(ConnectionConditions.user_required)
    async def pass_(self, connection: Connection, rest: str) -> bool:
        if not _uses_tls(connection):
            connection.response("530", "TLS required: send AUTH TLS first")
            return True
        if connection.future.logged.done():
            connection.response("503", "already logged in")
            return True
        name = connection.user.login
        account = await self._accounts(name)
        try:
            await self._logins.check(
                "ftp",
                name,
                rest,
                address=connection.client_host,
                password_hash=account.password_hash if account else None,
            )
        except LoginRefused as refused:
            failures = (connection.failed_logins if connection.future.failed_logins.done() else 0) + 1
            connection.failed_logins = failures
            if failures < LOGINS_PER_SESSION:
                connection.response("530", str(refused))
                return True
            connection.response("530", f"{refused}; closing after {failures} failed logins")
            return False
        assert account is not None
        connection.account = account  # bound for the rest of the session
        connection.user.base_path.mkdir(parents=True, exist_ok=True)
        connection.logged = True
        connection.response("230", "logged in")
        return True

    async def _account_still_enabled(self, connection: Connection) -> UploadAccount | None:
        """The session's account, if it was not disabled (or replaced) since the login; else the session ends."""
        bound: UploadAccount = connection.account
        current = await self._accounts(bound.name)
        if current is None or current.id != bound.id:
            log.warning("upload account disabled: ending its session", extra={"account": bound.name})
            connection.response("530", "this upload account is disabled")
            return None
        return bound

    # -- small commands -------------------------------------------------------------------------

    async def noop(self, connection: Connection, rest: str) -> bool:
        connection.response("200", "ok")
        return True

    async def feat(self, connection: Connection, rest: str) -> bool:
        connection.response("211", ["Features:", "AUTH TLS", "PBSZ", "PROT", "EPSV", "PASV", "End"], True)
        return True

    @ConnectionConditions(ConnectionConditions.login_required)
    async def prot(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        if str(rest).strip().upper() == "P":
            connection.response("200", "data connections are protected")
        else:
            connection.response("536", "only PROT P is allowed: data must be encrypted")
        return True

    # -- data connections -----------------------------------------------------------------------

    async def _start_passive_server(
        self,
        connection: Connection,
        handler_callback: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
    ) -> asyncio.Server:
        async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            if not peer or peer[0] != connection.client_host:  # someone racing the camera to its passive port
                log.warning(
                    "data connection from a foreign address refused",
                    extra={"address": peer[0] if peer else None, "expected": connection.client_host},
                )
                writer.close()
            elif connection.future.data_connection.done():
                writer.close()  # one data connection at a time
            else:
                connection.data_connection = TlsDataStream(
                    reader, writer, self._data_tls, read_bytes=self.block_size, timeout_s=self._limits.data_timeout_s
                )

        return await super()._start_passive_server(connection, accept)

    async def _data_connection(self, connection: Connection) -> TlsDataStream | None:
        try:
            async with asyncio.timeout(self.wait_future_timeout):
                stream: TlsDataStream = await connection.future.data_connection
        except TimeoutError:
            connection.response("425", "no data connection: connect to the passive port first")
            return None
        del connection.data_connection
        return stream

    # -- uploads --------------------------------------------------------------------------------

    @ConnectionConditions(ConnectionConditions.login_required, ConnectionConditions.passive_server_started)
    @PathPermissions(PathPermissions.writable)
    async def stor(self, connection: Connection, rest: str | PurePosixPath, mode: str = "wb") -> bool:
        real_path, virtual_path = self.get_paths(connection, rest)
        if connection.restart_offset or mode != "wb":
            connection.response("554", "resuming uploads is not supported: send the whole file")
            return True
        if not real_path.parent.is_dir() or real_path.name in ("", ".", ".."):
            connection.response("550", "path unreachable")
            return True
        account = await self._account_still_enabled(connection)
        if account is None:
            return False
        try:
            self._receiver.check_free_space()
        except DiskFull as full:
            connection.response("452", str(full))
            return True
        stream = await self._data_connection(connection)
        if stream is not None:
            connection.response("150", "ready to receive")
            await self._receive(connection, account, stream, real_path, virtual_path)
        return True

    async def _receive(
        self,
        connection: Connection,
        account: UploadAccount,
        stream: TlsDataStream,
        real_path: Path,
        virtual_path: PurePosixPath,
    ) -> None:
        where = {"account": account.name, "file": str(virtual_path)}
        try:
            partial = await self._receiver.take(stream.chunks(lenient=not self._limits.require_close_notify))
        except FileTooLarge as refused:
            log.warning("upload refused: file too large", extra=where)
            connection.response("552", str(refused))
            return
        except DiskFull as full:
            connection.response("452", str(full))
            return
        except (CutOff, ssl.SSLError, OSError, TimeoutError) as error:  # the camera will send it again
            log.warning("partial upload discarded", extra={**where, "error": repr(error)})
            connection.response("426", "connection closed; transfer aborted")
            return
        finally:
            await stream.finish()
        tls_end = "close_notify" if stream.ended_cleanly else "none"
        if not stream.ended_cleanly:  # only with ftp.require_close_notify off: this file may be incomplete
            log.warning("upload accepted without TLS close_notify (ftp.require_close_notify is off)", extra=where)
        if TEMPORARY_NAME.search(real_path.name):
            partial.keep_as(real_path)  # kept until the client renames it to its real name
        else:
            await self._receiver.commit(partial, self._origin(account, virtual_path))
        log.info("upload received", extra={**where, "bytes": partial.size, "tls_end": tls_end})
        connection.response("226", "transfer complete")

    def _origin(self, account: UploadAccount, virtual_path: PurePosixPath) -> Origin:
        return Origin(
            project_id=account.project_id,
            source=Source.FTP,
            original_name=virtual_path.name,
            upload_path=str(virtual_path.parent).lstrip("/"),
            account=account.name,
        )

    @ConnectionConditions(ConnectionConditions.login_required, ConnectionConditions.rename_from_required)
    async def rnto(self, connection: Connection, rest: str | PurePosixPath) -> bool:
        real_path, virtual_path = self.get_paths(connection, rest)
        rename_from: Path = connection.rename_from
        del connection.rename_from
        if not rename_from.is_file() or real_path.name in ("", ".", ".."):
            connection.response("550", "only files can be renamed here")
            return True
        if TEMPORARY_NAME.search(real_path.name):
            rename_from.rename(real_path)
        else:
            account = await self._account_still_enabled(connection)
            if account is None:
                return False
            partial = self._receiver.spool.adopt(rename_from)
            await self._receiver.commit(partial, self._origin(account, virtual_path))
        connection.response("250", "renamed")
        return True
