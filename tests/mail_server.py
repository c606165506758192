"""A real SMTP server for tests (aiosmtpd in its own thread): plain, STARTTLS or implicit TLS, with AUTH.

Every mail it accepts is parsed and kept in ``messages``; ``wait_for`` wakes on arrival (no polling).
Switches make it refuse a recipient (550) or answer 451 to the next mails, like a busy server.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from addax.config import Smtp
from addax.tls import self_signed


class Mode(StrEnum):
    PLAIN = "plain"
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS from the first byte


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    at: float = field(default_factory=time.time)  # when the server had the whole mail (for bench/alerts.py)


@dataclass
class _State:
    """What the server's thread and the tests share, under one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    messages: list[Received] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    temporary_failures: int = 0


USERNAME = "alerts@example.org"
PASSWORD = "mail-secret"


class MailServer:
    def __init__(self, cert_dir: Path, *, mode: Mode = Mode.PLAIN, username: str = "", password: str = "") -> None:
        self.mode = mode
        self.host = "127.0.0.1"
        self.port = 0
        self.username = username
        self.password = password
        self.ca_file = str(cert_dir / f"smtp-{mode}.crt")
        self._key_file = cert_dir / f"smtp-{mode}.key"
        self._state = _State()
        self._controller: Controller | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: asyncio.Event | None = None

    @property
    def messages(self) -> list[Received]:
        with self._state.lock:
            return list(self._state.messages)

    def settings(self, **overrides: Any) -> Smtp:
        """The client settings that reach this server (as the user it knows, over its kind of TLS)."""
        smtp = Smtp(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            from_address="addax@example.org",
            starttls=self.mode is Mode.STARTTLS,
            tls=self.mode is Mode.TLS,
            ca_file=self.ca_file if self.mode is not Mode.PLAIN else "",
            timeout_s=10.0,
        )
        return replace(smtp, **overrides)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._arrived = asyncio.Event()
        self.port = _free_port()  # aiosmtpd's Controller connects to its port once started: it cannot take 0
        kwargs: dict[str, Any] = {}
        if self.mode is not Mode.PLAIN:
            self_signed(Path(self.ca_file), self._key_file, common_name="localhost")
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.ca_file, self._key_file)
            kwargs["ssl_context" if self.mode is Mode.TLS else "tls_context"] = context
            kwargs["require_starttls"] = self.mode is Mode.STARTTLS
        if self.username:
            # aiosmtpd only knows of TLS that STARTTLS began: implicit TLS must allow AUTH "without" it too,
            # as plain mode does (aiosmtpd warns about that: see filterwarnings in pyproject.toml)
            after_starttls = self.mode is Mode.STARTTLS
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=after_starttls)
        self._controller = Controller(
            _Handler(self._state, self._wake), hostname=self.host, port=self.port, ready_timeout=10, **kwargs
        )
        await asyncio.to_thread(self._controller.start)

    async def stop(self) -> None:
        if self._controller is not None:
            await asyncio.to_thread(self._controller.stop)
            self._controller = None

    def clear(self) -> None:
        """Forget the mails and the switches (between tests)."""
        with self._state.lock:
            self._state.messages.clear()
            self._state.refused.clear()
            self._state.temporary_failures = 0

    def refuse(self, address: str) -> None:
        """Answer ``550`` to RCPT TO for ``address``."""
        with self._state.lock:
            self._state.refused.add(address.lower())

    def fail_temporarily(self, count: int = 1) -> None:
        """Answer ``451`` (try again later) at the end of DATA to the next ``count`` mails."""
        with self._state.lock:
            self._state.temporary_failures = count

    async def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        """The mails once at least ``count`` have arrived (since the last ``clear``)."""
        assert self._arrived is not None, "the mail server is not started"
        try:
            async with asyncio.timeout(timeout):
                while len(messages := self.messages) < count:
                    self._arrived.clear()
                    if len(self.messages) < count:  # one may have arrived between the check and clear()
                        await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(f"{len(self.messages)} of {count} mails arrived within {timeout:g}s") from None
        return messages

    def _wake(self) -> None:
        """Called from the server's thread."""
        assert self._loop is not None and self._arrived is not None
        self._loop.call_soon_threadsafe(self._arrived.set)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            ok = auth_data.login.decode() == self.username and auth_data.password.decode() == self.password
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)


def _free_port() -> int:
    """As tests.conftest.free_port, which this module cannot import: conftest imports it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Handler:
    """aiosmtpd's hooks, run in the server's thread."""

    def __init__(self, state: _State, wake: Callable[[], None]) -> None:
        self._state = state
        self._wake = wake

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        with self._state.lock:
            if address.lower() in self._state.refused:
                return f"550 5.1.1 <{address}>: recipient address rejected: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._state.lock:
            if self._state.temporary_failures > 0:
                self._state.temporary_failures -= 1
                return "451 4.3.0 Try again later"
            raw = cast(bytes, envelope.original_content)
            # SMTP ends lines in CRLF; parsed with plain \n so that a body compares equal to the string sent
            parsed = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
            message = cast(EmailMessage, parsed)
            received = Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, raw)
            self._state.messages.append(received)
        self._wake()
        return "250 Message accepted for delivery"


class MailServers:
    """One server per mode for the whole session, started when a test first asks for it."""

    def __init__(self, cert_dir: Path) -> None:
        self._cert_dir = cert_dir
        self._servers: dict[Mode, MailServer] = {}

    async def get(self, mode: Mode) -> MailServer:
        """The server for ``mode`` (with AUTH: USERNAME, PASSWORD), with no mails and no switches set."""
        if mode not in self._servers:
            server = MailServer(self._cert_dir, mode=mode, username=USERNAME, password=PASSWORD)
            await server.start()
            self._servers[mode] = server
        server = self._servers[mode]
        server.clear()
        return server

    async def stop(self) -> None:
        for server in self._servers.values():
            await server.stop()
        self._servers.clear()
