"""A real S3-compatible server for the tests: moto's server mode (``moto[server]``) in a process of its own.

It speaks the S3 REST protocol over HTTP on a local port, so Addax's aioboto3 client, boto3 and an `addax`
subprocess all talk to it as they would to AWS, MinIO or Garage.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3

ACCESS_KEY = "addax-test"
SECRET_KEY = "addax-test-secret"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, log_dir: Path) -> S3Server:
        port = _free_port()
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / "moto.log").open("ab")
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
            start_new_session=True,
        )
        server = cls(endpoint_url=f"http://127.0.0.1:{port}", process=process)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=2).close()
                return server
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    server.stop()
                    raise RuntimeError(f"moto_server did not start (see {log_dir / 'moto.log'})") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)

    def client(self):  # type: ignore[no-untyped-def]
        """A plain boto3 client, for the tests' own checks behind Addax's back."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def new_bucket(self) -> str:
        name = f"addax-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def environment(self, bucket: str) -> dict[str, str]:
        """``ADDAX_STORAGE_*`` settings that point an `addax` process at ``bucket`` on this server."""
        return {
            "ADDAX_STORAGE_BACKEND": "s3",
            "ADDAX_STORAGE_S3_ENDPOINT_URL": self.endpoint_url,
            "ADDAX_STORAGE_S3_BUCKET": bucket,
            "ADDAX_STORAGE_S3_ACCESS_KEY": ACCESS_KEY,
            "ADDAX_STORAGE_S3_SECRET_KEY": SECRET_KEY,
            "ADDAX_STORAGE_S3_REGION": REGION,
        }


class HoldingProxy:
    """A TCP proxy in front of the S3 server that stops forwarding a request once it carries ``marker`` (e.g.
    ``partNumber=2``): the upload hangs there, so a test can kill the uploader mid-multipart without racing it."""

    def __init__(self, target_port: int, marker: bytes) -> None:
        self.marker = marker
        self.held = threading.Event()
        self.port = _free_port()
        self._target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._connected, "127.0.0.1", self.port), self._loop
        ).result(timeout=10)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
        try:
            async with asyncio.TaskGroup() as pumps:
                pumps.create_task(self._pump(reader, upstream_writer, inspect=True))
                pumps.create_task(self._pump(upstream_reader, writer, inspect=False))
        except* (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            upstream_writer.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, inspect: bool) -> None:
        while chunk := await reader.read(1 << 16):
            if inspect and not self.held.is_set() and self.marker in chunk:
                self.held.set()
                await asyncio.Event().wait()  # never forwarded: the client waits until it is killed
            writer.write(chunk)
            await writer.drain()

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
