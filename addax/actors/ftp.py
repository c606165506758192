# mypy: disable-error-code="arg-type"
# (aioftp types its command decorators for its own Server class, not for subclasses.)
"""The built-in FTPS server cameras upload to (aioftp, explicit TLS required).

Per connection::

    connect ─► AUTH TLS ─► USER/PASS (lockout) ─► PBSZ 0 / PROT P ─► PASV ─► STOR name
                                                     │
                 the file lands in the spool as <id>.part while it arrives
                 complete  ─► committed to the spool ─► sent to the ingestor ─► "226"
                 cut off   ─► discarded and logged (the camera sends it again later)

Each account is jailed in ``data_dir/ftp/<account>``; files never stay there (except a
temporary name waiting for its RNFR/RNTO), so re-used names never overwrite anything.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath
from typing import Any

import aioftp
from aioftp.server import ConnectionConditions, PathPermissions

from addax.domain.intake import Arrival, Source
from addax.runtime import Actor
from addax.runtime.servers import PortInUse, bind
from addax.store.logins import LoginGuard, LoginRefused
from addax.store.spool import Spool

log = logging.getLogger("addax.ftp")

ACCOUNT_NAME = re.compile(r"^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,64}$")
TEMPORARY_NAME = re.compile(r"(^\.|\.(tmp|part|filepart|partial|upload)$|^~)", re.IGNORECASE)

AccountLookup = Callable[[str], Awaitable[tuple[str, int] | None]]  # name -> (password hash, project id)
Deliver = Callable[[Arrival], Awaitable[None]]


class FileTooLarge(Exception):
    pass


def _uses_tls(connection: aioftp.Connection) -> bool:
    return connection.command_connection.writer.transport.get_extra_info("ssl_object") is not None


class _CameraFtpServer(aioftp.Server):
    """aioftp with AUTH TLS, shared lockout, a spool behind STOR, and ingest on completion."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext,
        homes: Path,
        spool: Spool,
        accounts: AccountLookup,
        logins: LoginGuard,
        deliver: Deliver,
        max_file_bytes: int,
        min_free_bytes: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(users=_Accounts(homes), ssl=tls, **kwargs)
        self._homes, self._spool, self._accounts, self._logins = homes, spool, accounts, logins
        self._deliver, self._max_file_bytes, self._min_free_bytes = deliver, max_file_bytes, min_free_bytes
        self.commands_mapping["auth"] = self.auth

    async def start(self, host: str | None = None, port: int = 0, **kwargs: Any) -> None:
        # The control connection starts in the clear (explicit TLS); data connections are TLS from the start.
        tls, self.ssl = self.ssl, None
        try:
            await super().start(host, port, **kwargs)
        finally:
            self.ssl = tls

    async def auth(self, connection: aioftp.Connection, rest: str) -> bool:
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
        loop = asyncio.get_running_loop()
        assert self.ssl is not None
        try:
            transport = await loop.start_tls(writer.transport, protocol, self.ssl, server_side=True)
        except (OSError, ssl.SSLError) as error:
            log.info("TLS handshake failed", extra={"address": connection.client_host, "error": str(error)})
            return False
        writer._transport = transport  # what StreamWriter.start_tls does, which cannot be used without yielding
        protocol._replace_writer(writer)
        return True

    async def user(self, connection: aioftp.Connection, rest: str) -> bool:
        if not _uses_tls(connection):
            connection.response("530", "TLS required: send AUTH TLS first")
            return True
        return await super().user(connection, rest)

    @ConnectionConditions(ConnectionConditions.user_required)
    async def pass_(self, connection: aioftp.Connection, rest: str) -> bool:
        if not _uses_tls(connection):
            connection.response("530", "TLS required: send AUTH TLS first")
            return True
        name = connection.user.login

        async def password_hash() -> str | None:
            found = await self._accounts(name)
            return found[0] if found else None

        try:
            await self._logins.check("ftp", name, rest, address=connection.client_host, password_hash=password_hash)
        except LoginRefused as refused:
            connection.response("530", str(refused))
            return True
        connection.user.base_path.mkdir(parents=True, exist_ok=True)
        connection.logged = True
        connection.response("230", "logged in")
        return True

    @ConnectionConditions(ConnectionConditions.login_required)
    async def prot(self, connection: aioftp.Connection, rest: str | PurePosixPath) -> bool:
        if str(rest).strip().upper() == "P":
            connection.response("200", "data connections are protected")
        else:
            connection.response("536", "only PROT P is allowed: data must be encrypted")
        return True

    @ConnectionConditions(ConnectionConditions.login_required, ConnectionConditions.passive_server_started)
    @PathPermissions(PathPermissions.writable)
    async def stor(self, connection: aioftp.Connection, rest: str | PurePosixPath, mode: str = "wb") -> bool:
        real_path, virtual_path = self.get_paths(connection, rest)
        if connection.restart_offset or mode != "wb":
            connection.response("554", "resuming uploads is not supported: send the whole file")
            return True
        if not real_path.parent.is_dir() or real_path.name in ("", ".", ".."):
            connection.response("550", "path unreachable")
            return True
        if shutil.disk_usage(self._spool.directory).free < self._min_free_bytes:
            log.error("refusing upload: disk nearly full", extra={"account": connection.user.login})
            connection.response("452", "insufficient storage space on the server; try again later")
            return True
        task: asyncio.Task[bool] = asyncio.create_task(self._receive(connection, real_path, virtual_path))
        connection.extra_workers.add(task)  # the connection's dispatcher awaits it and sees its failure
        connection.response("150", "data transfer started")
        return True

    @ConnectionConditions(
        ConnectionConditions.data_connection_made, wait=True, fail_code="425", fail_info="Can't open data connection"
    )
    async def _receive(self, connection: aioftp.Connection, real_path: Path, virtual_path: PurePosixPath) -> bool:
        stream = connection.data_connection
        del connection.data_connection
        account = connection.user.login
        peer = stream.writer.transport.get_extra_info("peername")  # None once a fast client has hung up
        if peer and peer[0] != connection.client_host:  # someone else raced the camera to its passive port
            log.warning(
                "data connection from a foreign address refused",
                extra={"account": account, "address": peer[0], "expected": connection.client_host},
            )
            stream.close()
            connection.response("425", "data connection must come from the control connection's address")
            return True
        spool_id, partial = self._spool.new_partial()
        try:
            size = 0
            with partial.open("wb") as received:
                async with stream:
                    async for block in stream.iter_by_block(connection.block_size):
                        size += len(block)
                        if size > self._max_file_bytes:
                            raise FileTooLarge
                        received.write(block)
            if connection.command_connection.reader.at_eof():
                raise ConnectionResetError("control connection closed during the transfer")
        except FileTooLarge:
            partial.unlink(missing_ok=True)
            log.warning("upload refused: file too large", extra={"account": account, "file": str(virtual_path)})
            connection.response("552", f"file exceeds the limit of {self._max_file_bytes // 2**20} MB")
            return True
        except BaseException as error:  # cancelled or cut off: the camera will send it again
            partial.unlink(missing_ok=True)
            log.warning(
                "partial upload discarded", extra={"account": account, "file": str(virtual_path), "error": repr(error)}
            )
            if isinstance(error, asyncio.CancelledError):
                connection.response("426", "transfer aborted")
                raise
            connection.response("426", "connection closed; transfer aborted")
            return True
        if TEMPORARY_NAME.search(real_path.name):
            partial.rename(real_path)  # kept until the client renames it to its real name
        else:
            await self._ingest(connection, partial, spool_id, virtual_path)
        connection.response("226", "transfer complete")
        return True

    async def _ingest(
        self, connection: aioftp.Connection, partial: Path, spool_id: str, virtual_path: PurePosixPath
    ) -> None:
        found = await self._accounts(connection.user.login)
        if found is None:
            raise ConnectionAbortedError("the upload account was removed")
        arrival = Arrival(
            id=spool_id,
            project_id=found[1],
            source=Source.FTP,
            original_name=virtual_path.name,
            upload_path=str(virtual_path.parent).lstrip("/"),
            account=connection.user.login,
        )
        await asyncio.to_thread(self._spool.commit, partial, arrival)
        await self._deliver(arrival)  # waits while the ingestor is full: backpressure up to the camera
        log.info("upload received", extra={"account": arrival.account, "file": str(virtual_path), "spool_id": spool_id})

    @ConnectionConditions(ConnectionConditions.login_required, ConnectionConditions.rename_from_required)
    async def rnto(self, connection: aioftp.Connection, rest: str | PurePosixPath) -> bool:
        real_path, virtual_path = self.get_paths(connection, rest)
        rename_from: Path = connection.rename_from
        del connection.rename_from
        if not rename_from.is_file() or real_path.name in ("", ".", ".."):
            connection.response("550", "only files can be renamed here")
            return True
        if TEMPORARY_NAME.search(real_path.name):
            rename_from.rename(real_path)
        else:
            spool_id, partial = self._spool.new_partial()
            rename_from.rename(partial)
            await self._ingest(connection, partial, spool_id, virtual_path)
        connection.response("250", "renamed")
        return True


class _Accounts(aioftp.AbstractUserManager):
    """Every well-formed name gets a password prompt, so probing cannot tell which accounts exist."""

    def __init__(self, homes: Path) -> None:
        super().__init__()
        self._homes = homes

    async def get_user(self, login: str) -> tuple[aioftp.AbstractUserManager.GetUserResponse, aioftp.User | None, str]:
        if not ACCOUNT_NAME.match(login):
            return self.GetUserResponse.ERROR, None, "invalid account name"
        user = aioftp.User(login=login, base_path=self._homes / login, home_path="/")
        return self.GetUserResponse.PASSWORD_REQUIRED, user, "password required"

    async def authenticate(self, user: aioftp.User, password: str) -> bool:
        return False  # pass_ checks passwords itself, with the shared lockout

    async def notify_logout(self, user: aioftp.User) -> None:
        pass


class FtpActor(Actor[None]):
    def __init__(
        self,
        *,
        host: str,
        port: int,
        passive_ports: range | None,
        tls: Callable[[], ssl.SSLContext],
        data_dir: Path,
        spool: Spool,
        accounts: AccountLookup,
        logins: LoginGuard,
        deliver: Deliver,
        max_connections: int,
        max_file_mb: int,
        min_free_mb: int = 512,
        passive_address: str = "",
        name: str = "ftp",
    ) -> None:
        super().__init__(name=name)
        self._host, self._port, self._passive_ports = host, port, passive_ports
        self._tls, self._homes, self._spool = tls, data_dir / "ftp", spool
        self._accounts, self._logins, self._deliver = accounts, logins, deliver
        self._max_connections, self._max_file_bytes = max_connections, max_file_mb * 2**20
        self._passive_address = passive_address or None
        self._min_free_bytes = min_free_mb * 2**20
        self._server: _CameraFtpServer | None = None

    async def on_start(self) -> None:
        bind(self._host, self._port, setting="ftp.port").close()  # a clear error when the port is taken
        self._homes.mkdir(parents=True, exist_ok=True)
        self._server = _CameraFtpServer(
            tls=self._tls(),
            homes=self._homes,
            spool=self._spool,
            accounts=self._accounts,
            logins=self._logins,
            deliver=self._deliver,
            max_file_bytes=self._max_file_bytes,
            min_free_bytes=self._min_free_bytes,
            data_ports=self._passive_ports,
            maximum_connections=self._max_connections,
            idle_timeout=300,
            block_size=256 * 1024,  # photos are megabytes: fewer, larger reads keep the loop free
            ipv4_pasv_forced_response_address=self._passive_address,
            socket_timeout=60,
            welcome_message="Addax FTPS: AUTH TLS required",
        )
        try:
            await self._server.start(self._host, self._port, reuse_address=True)
        except OSError as error:
            raise PortInUse(f"ftp.port: cannot listen on {self._host}:{self._port}: {error}") from None

    async def run(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def on_stop(self) -> None:
        if self._server is not None:
            await self._server.close()
            self._server = None
