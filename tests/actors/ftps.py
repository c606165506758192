"""A camera's side of FTPS: Python's ftplib.FTP_TLS as a real client uses it, and a raw socket client."""

from __future__ import annotations

import ftplib
import io
import socket
import ssl
from pathlib import Path


def client(port: int, user: str, password: str) -> ftplib.FTP_TLS:
    ftp = ftplib.FTP_TLS(context=tls_context(), timeout=30)
    ftp.connect("127.0.0.1", port)
    ftp.auth()
    ftp.login(user, password)
    ftp.prot_p()
    return ftp


def store_files(ftp: ftplib.FTP_TLS, files: list[Path]) -> None:
    """STOR each file under its own name, in one session."""
    for path in files:
        with path.open("rb") as data:
            ftp.storbinary(f"STOR {path.name}", data)


def curl_command(port: int, user: str, password: str, files: list[Path]) -> list[str]:
    """A camera with libcurl firmware: one curl, one FTPS session, every file (curl's ``-T "{a,b}"`` list)."""
    listed = "{" + ",".join(map(str, files)) + "}"
    secure = ["--ssl-reqd", "--insecure", "--ftp-pasv"]
    return [
        "curl",
        "--silent",
        "--show-error",
        *secure,
        "--user",
        f"{user}:{password}",
        "-T",
        listed,
        f"ftp://127.0.0.1:{port}/",
    ]


def upload(port: int, user: str, password: str, files: dict[str, bytes]) -> None:
    ftp = client(port, user, password)
    try:
        for name, data in files.items():
            folder, _, filename = name.rpartition("/")
            if folder:
                for part in folder.split("/"):
                    try:
                        ftp.mkd(part)
                    except ftplib.error_perm:
                        pass  # exists already
                    ftp.cwd(part)
            ftp.storbinary(f"STOR {filename}", io.BytesIO(data))
            if folder:
                ftp.cwd("/")
    finally:
        ftp.quit()


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the server's certificate is self-signed
    return context


class RawFtps:
    """A control connection driven byte by byte, as the worst real client or an attacker does:
    several commands in one write, commands in odd orders, a close right after the last byte."""

    def __init__(self, port: int, *, tls: bool = True, timeout: float = 30) -> None:
        self.port = port
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self._lines = self.sock.makefile("rb")
        self.greeting = self.reply()
        if tls:
            self.send("AUTH TLS")
            assert self.reply().startswith("234")
            self.sock = tls_context().wrap_socket(self.sock)
            self._lines = self.sock.makefile("rb")

    def send(self, *lines: str) -> None:
        """All lines in one write (pipelined)."""
        self.sock.sendall("".join(f"{line}\r\n" for line in lines).encode())

    def reply(self) -> str:
        """One reply ('' when the server closed); a multi-line reply comes back as its last line."""
        line = self._lines.readline().decode()
        while len(line) > 3 and line[3] == "-":
            code = line[:3]
            while not (line := self._lines.readline().decode()).startswith(f"{code} ") and line:
                pass
        return line.rstrip("\r\n")

    def replies(self, count: int) -> list[str]:
        return [self.reply() for _ in range(count)]

    def login(self, user: str, password: str) -> None:
        self.send(f"USER {user}", f"PASS {password}", "PBSZ 0", "PROT P")
        answers = self.replies(4)
        assert [answer[:3] for answer in answers] == ["331", "230", "200", "200"], answers

    def passive(self) -> int:
        self.send("PASV")
        answer = self.reply()
        assert answer.startswith("227"), answer
        numbers = answer[answer.index("(") + 1 : answer.index(")")].split(",")
        return int(numbers[4]) * 256 + int(numbers[5])

    def data(self, port: int) -> socket.socket:
        """A plain TCP data connection; wrap it with ``tls_context().wrap_socket`` after the 150."""
        return socket.create_connection(("127.0.0.1", port), timeout=30)

    def store(self, name: str, data: bytes, *, close_notify: bool = True) -> str:
        """STOR over a TLS data connection; returns the final reply. ``close_notify=False`` drops the
        connection without TLS's goodbye, as a camera that loses its signal does."""
        port = self.passive()
        plain = self.data(port)
        self.send(f"STOR {name}")
        assert self.reply().startswith("150")
        secure = tls_context().wrap_socket(plain)
        secure.sendall(data)
        if close_notify:
            secure.unwrap().close()
        else:
            secure.shutdown(socket.SHUT_RDWR)  # TCP's close only: SSLSocket.shutdown sends no close_notify
            secure.close()
        return self.reply()

    def store_like_curl(self, name: str, data: bytes) -> str:
        """STOR as libcurl does: TLS close_notify sent, then the socket closed at once, never having read
        what the server sent after the handshake."""
        port = self.passive()
        plain = self.data(port)
        self.send(f"STOR {name}")
        assert self.reply().startswith("150")
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = tls_context().wrap_bio(incoming, outgoing)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                plain.sendall(outgoing.read())
                incoming.write(plain.recv(65536))
        tls.write(data)
        try:
            tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # close_notify is written; the server's is not waited for
        plain.sendall(outgoing.read())
        plain.close()
        return self.reply()

    def close(self) -> None:
        self.sock.close()
