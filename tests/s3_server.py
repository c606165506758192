"""A real S3-compatible server for the tests: moto's server mode (``moto[server]``) in a process of its own.

It speaks the S3 REST protocol over HTTP on a local port, so Addax's aioboto3 client, boto3 and an `addax`
subprocess all talk to it as they would to AWS, MinIO or Garage.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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
