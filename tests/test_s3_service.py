"""`addax run` on an S3 bucket (moto's server): photos arrive over FTPS and end in the bucket byte for byte; a
bucket that refuses writes makes intake wait and lose nothing; SIGKILL during a multipart upload of a large
photo ends, after a restart, with every photo stored exactly once and no half object in the bucket."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import signal
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from tests.actors.ftps import client
from tests.conftest import world_readable_tempdir
from tests.domain import jpeg_factory
from tests.s3_server import HoldingProxy, S3Server
from tests.service import AddaxProcess, environment, free_port_range


@pytest.fixture
def addax_on_s3(s3_server: S3Server) -> Iterator[tuple[AddaxProcess, str]]:
    home = world_readable_tempdir("addax-s3-")
    bucket = s3_server.new_bucket()
    process = AddaxProcess(home=home, env={**environment(), **s3_server.environment(bucket)})
    process.env["ADDAX_FTP_PASSIVE_PORTS"] = free_port_range(20)
    process.env["ADDAX_FTP_MAX_CONNECTIONS"] = "10"
    process.env["ADDAX_STORAGE_S3_MULTIPART_MB"] = "5"  # S3's smallest part: a 12 MB photo goes in parts
    yield process, bucket
    process.kill()
    subprocess.run(["rm", "-rf", str(home)], check=False)


def _start_with_account(addax: AddaxProcess) -> int:
    addax.start()
    addax.wait_healthy()
    assert addax.cli("project", "add", "s3").returncode == 0
    added = addax.cli("ftp-user", "add", "s3cam", "--project", "s3", "--password-stdin", stdin="pw-s3cam\n")
    assert added.returncode == 0, added.stderr
    return int(addax.env["ADDAX_FTP_PORT"])


def _photo(number: int) -> bytes:
    return jpeg_factory.willfine_jpeg(serial="S3CAM", taken=f"2025:12:05 10:{number:02d}:00")


@functools.cache
def _large_photo() -> bytes:
    """About 12 MB: noise does not compress."""
    noise = np.random.default_rng(7).integers(0, 256, (2400, 3200, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "JPEG", quality=98)
    return jpeg_factory.with_exif(
        buffer.getvalue(),
        {
            "Exif.Image.Make": "Willfine",
            "Exif.Image.Model": "4.0T CG",
            "Exif.Photo.BodySerialNumber": "S3CAM",
            "Exif.Photo.DateTimeOriginal": "2025:12:05 11:00:00",
        },
    )


def _bucket_hashes(s3_server: S3Server, bucket: str, prefix: str = "originals/") -> dict[str, str]:
    s3 = s3_server.client()
    hashes = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            hashes[item["Key"]] = hashlib.sha256(body).hexdigest()
    return hashes


def test_photos_land_in_the_bucket_byte_for_byte(addax_on_s3: tuple[AddaxProcess, str], s3_server: S3Server) -> None:
    addax, bucket = addax_on_s3
    port = _start_with_account(addax)
    sent = {f"IMG_{n:04d}.JPG": _photo(n) for n in range(5)} | {"IMG_0100.JPG": _large_photo()}
    session = client(port, "s3cam", "pw-s3cam")
    for name, data in sent.items():
        session.storbinary(f"STOR {name}", io.BytesIO(data))
    session.quit()
    addax.wait_for(lambda: addax.value("SELECT count(*) FROM images") == len(sent))
    rows = addax.query("SELECT original_name, original_key, sha256 FROM images ORDER BY original_name")
    stored = _bucket_hashes(s3_server, bucket)
    assert {row["original_key"]: stored.get(row["original_key"]) for row in rows} == {
        row["original_key"]: hashlib.sha256(sent[row["original_name"]]).hexdigest() for row in rows
    }
    local = [path for path in (addax.home / "data" / "objects").rglob("*") if path.is_file()]
    assert local == [], "nothing went to the local directory"
    uploads = s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert uploads == [], "the large photo's multipart upload was completed"


def test_a_bucket_that_refuses_writes_keeps_photos_waiting_until_it_accepts(
    addax_on_s3: tuple[AddaxProcess, str], s3_server: S3Server
) -> None:
    addax, bucket = addax_on_s3
    port = _start_with_account(addax)
    s3 = s3_server.client()
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
        ],
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(deny))
    sent = {f"IMG_{n:04d}.JPG": _photo(n) for n in range(3)}
    session = client(port, "s3cam", "pw-s3cam")
    for name, data in sent.items():
        session.storbinary(f"STOR {name}", io.BytesIO(data))  # the spool has them: the camera is answered
    session.quit()
    addax.wait_for(lambda: "ingest failed, will retry" in addax.log(), what="the refusal is seen and retried")
    assert addax.value("SELECT count(*) FROM images") == 0, "no row points at an object that is not there"
    s3.delete_bucket_policy(Bucket=bucket)
    addax.wait_for(lambda: addax.value("SELECT count(*) FROM images") == len(sent))
    assert addax.value("SELECT count(*) FROM images WHERE reject_reason IS NOT NULL") == 0
    assert sorted(_bucket_hashes(s3_server, bucket).values()) == sorted(
        hashlib.sha256(data).hexdigest() for data in sent.values()
    )


def test_sigkill_during_a_multipart_upload_stores_every_photo_once(s3_server: S3Server) -> None:
    home = world_readable_tempdir("addax-s3-kill-")
    bucket = s3_server.new_bucket()
    # The second part of the first multipart upload never reaches the bucket: the kill comes mid-upload.
    proxy = HoldingProxy(int(s3_server.endpoint_url.rsplit(":", 1)[1]), marker=b"partNumber=2")
    addax = AddaxProcess(home=home, env={**environment(), **s3_server.environment(bucket)})
    addax.env |= {
        "ADDAX_FTP_PASSIVE_PORTS": free_port_range(20),
        "ADDAX_FTP_MAX_CONNECTIONS": "10",
        "ADDAX_STORAGE_S3_MULTIPART_MB": "5",
        "ADDAX_STORAGE_S3_ENDPOINT_URL": proxy.endpoint_url,
    }
    try:
        port = _start_with_account(addax)
        sent = {f"IMG_{n:04d}.JPG": _photo(n) for n in range(4)} | {"BIG_0001.JPG": _large_photo()}
        session = client(port, "s3cam", "pw-s3cam")
        for name, data in sent.items():
            session.storbinary(f"STOR {name}", io.BytesIO(data))  # 226 once in the spool
        session.quit()
        addax.wait_for(proxy.held.is_set, timeout=120, what="the second part held at the proxy")
        assert addax.process is not None
        addax.process.send_signal(signal.SIGKILL)
        addax.process.wait()
        s3 = s3_server.client()
        assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), "killed with an upload unfinished"

        addax.start()
        addax.wait_healthy()
        addax.wait_for(lambda: addax.value("SELECT count(*) FROM images") == len(sent))
        assert addax.value("SELECT count(*) - count(DISTINCT original_name) FROM images") == 0
        assert addax.value("SELECT count(*) FROM images WHERE reject_reason IS NOT NULL") == 0
        stored = _bucket_hashes(s3_server, bucket)
        assert sorted(stored.values()) == sorted(hashlib.sha256(data).hexdigest() for data in sent.values())
        assert addax.stop() == 0
    finally:
        addax.kill()
        proxy.stop()
        subprocess.run(["rm", "-rf", str(home)], check=False)
