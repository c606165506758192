"""TLS for FTPS and HTTPS: self-signed on first start, the operator's files otherwise, clear errors."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from addax.runtime import Supervisor
from addax.runtime.servers import AiohttpServer
from addax.tls import CertificateError, server_context
from tests.conftest import free_port


def hello_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", lambda request: web.json_response({"hello": "camera"}))
    return app


async def test_https_with_a_self_signed_certificate_made_on_first_start(tmp_path: Path) -> None:
    port = free_port()
    tls = lambda: server_context("", "", data_dir=tmp_path, section="http")  # noqa: E731
    async with Supervisor() as supervisor:
        await supervisor.start(
            AiohttpServer(name="https", app=hello_app, host="127.0.0.1", port=port, setting="http.port", tls=tls)
        )
        async with aiohttp.ClientSession() as session:
            async with session.get(f"https://127.0.0.1:{port}/", ssl=False) as response:
                assert await response.json() == {"hello": "camera"}
            with pytest.raises(aiohttp.ClientError):
                await session.get(f"http://127.0.0.1:{port}/")  # plain HTTP gets no answer
    assert (tmp_path / "tls" / "http.crt").exists() and (tmp_path / "tls" / "http.key").stat().st_mode & 0o077 == 0


def test_the_same_certificate_is_used_again(tmp_path: Path) -> None:
    server_context("", "", data_dir=tmp_path)
    first = (tmp_path / "tls" / "ftps.crt").read_bytes()
    server_context("", "", data_dir=tmp_path)
    assert (tmp_path / "tls" / "ftps.crt").read_bytes() == first


def test_half_a_configuration_and_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match=r"ftp\.cert_file and ftp\.key_file: set both"):
        server_context(str(tmp_path / "a.crt"), "", data_dir=tmp_path)
    (tmp_path / "bad.crt").write_text("not a certificate")
    (tmp_path / "bad.key").write_text("not a key")
    with pytest.raises(CertificateError, match=r"http\.cert_file/http\.key_file: cannot load"):
        server_context(str(tmp_path / "bad.crt"), str(tmp_path / "bad.key"), data_dir=tmp_path, section="http")
    assert isinstance(server_context("", "", data_dir=tmp_path), ssl.SSLContext)
