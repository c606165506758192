"""`addax storage migrate --to s3` as an operator runs it: a real `addax` process, a real S3 server (moto's)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from addax.store.object_fs import FilesystemObjectStore
from tests.s3_server import S3Server
from tests.service import environment

OBJECTS = {
    "originals/1/ab/ab01.jpg": b"\xff\xd8 photo one",
    "originals/1/cd/cd02.jpg": b"\xff\xd8 photo two, a little longer",
    "originals/2/ef/ef03.mp4": os.urandom(17 * (1 << 20)),  # above the 16 MiB threshold: a multipart upload
    "keyframes/2/ef/ef03/000001500.jpg": b"keyframe",
    "derived/1/001/1001/thumbnail.jpg": b"thumbnail",
    "derived/1/001/1001/annotated.jpg": os.urandom(6 * (1 << 20)),
}


@pytest.fixture
async def data_dir(tmp_path: Path) -> Path:
    store = FilesystemObjectStore(tmp_path / "data" / "objects")
    for key, data in OBJECTS.items():
        await store.put_bytes(key, data)
    return tmp_path / "data"


async def addax(data_dir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``addax ARGS`` with ``data_dir`` and a database that does not answer: migrating must not need one."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "addax",
        *args,
        cwd=data_dir.parent,  # away from the checkout's config.toml
        env={
            **environment(),
            **env,
            "ADDAX_GENERAL_DATA_DIR": str(data_dir),
            "ADDAX_DATABASE_URL": "postgresql://addax@127.0.0.1:9/none",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return subprocess.CompletedProcess(list(args), process.returncode, stdout.decode(), stderr.decode())


async def migrate(s3_server: S3Server, bucket: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return await addax(data_dir, s3_server.environment(bucket), "storage", "migrate", "--to", "s3")


def in_bucket(s3_server: S3Server, bucket: str) -> dict[str, str]:
    """Every object in the bucket and its SHA-256, read back with a plain boto3 client."""
    client = s3_server.client()
    found = {}
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        found[item["Key"]] = hashlib.sha256(body).hexdigest()
    return found


def expected() -> dict[str, str]:
    return {key: hashlib.sha256(data).hexdigest() for key, data in OBJECTS.items()}


def summary(out: str) -> tuple[int, int, int]:
    found = re.search(r"copied (\d+) object\(s\) .*; (\d+) already there; (\d+) failed", out)
    assert found, out
    copied, there, failed = (int(number) for number in found.groups())
    return copied, there, failed


async def test_migrate_copies_every_object_and_verifies_it(s3_server: S3Server, data_dir: Path) -> None:
    bucket = s3_server.new_bucket()
    result = await migrate(s3_server, bucket, data_dir)
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (len(OBJECTS), 0, 0)
    assert f"({sum(len(data) for data in OBJECTS.values())} bytes)" in result.stdout
    assert "restart addax" in result.stdout and "are kept" in result.stdout
    assert "migrating" in result.stderr  # the progress bar
    assert in_bucket(s3_server, bucket) == expected()
    video = s3_server.client().head_object(Bucket=bucket, Key="originals/2/ef/ef03.mp4")
    assert video["ETag"].strip('"').endswith("-2")  # sent in two parts
    assert s3_server.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    for key, data in OBJECTS.items():  # nothing local is deleted
        assert (data_dir / "objects" / key).read_bytes() == data
    assert not [path for path in data_dir.iterdir() if path.name.startswith(".migrate-")]

    again = await migrate(s3_server, bucket, data_dir)  # everything is there: nothing copied
    assert again.returncode == 0, again.stderr
    assert summary(again.stdout) == (0, len(OBJECTS), 0)


async def test_migrate_resumes_and_recopies_what_differs(s3_server: S3Server, data_dir: Path) -> None:
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    # What an interrupted run left: two objects copied, one with other bytes of the same size, one cut short.
    client.put_object(Bucket=bucket, Key="originals/1/ab/ab01.jpg", Body=OBJECTS["originals/1/ab/ab01.jpg"])
    client.put_object(Bucket=bucket, Key="originals/2/ef/ef03.mp4", Body=OBJECTS["originals/2/ef/ef03.mp4"])
    client.put_object(Bucket=bucket, Key="keyframes/2/ef/ef03/000001500.jpg", Body=b"KEYFRAME")  # same size
    client.put_object(Bucket=bucket, Key="derived/1/001/1001/thumbnail.jpg", Body=b"thumb")

    result = await migrate(s3_server, bucket, data_dir)
    assert result.returncode == 0, result.stderr
    assert summary(result.stdout) == (len(OBJECTS) - 2, 2, 0)
    assert in_bucket(s3_server, bucket) == expected()


async def test_migrate_into_a_bucket_that_refuses_writes(s3_server: S3Server, data_dir: Path) -> None:
    bucket = s3_server.new_bucket()
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    s3_server.client().put_bucket_policy(Bucket=bucket, Policy=policy)

    result = await migrate(s3_server, bucket, data_dir)
    assert result.returncode == 1
    assert summary(result.stdout) == (0, 0, len(OBJECTS))
    failed = [line for line in result.stderr.splitlines() if line.startswith("addax: failed: ")]
    assert [line.removeprefix("addax: failed: ").split(":")[0] for line in failed] == sorted(OBJECTS)
    assert all("access denied" in line for line in failed)
    assert "run the same command again" in result.stderr
    assert in_bucket(s3_server, bucket) == {}


async def test_migrate_refuses_clearly(s3_server: S3Server, data_dir: Path, tmp_path: Path) -> None:
    result = await migrate(s3_server, "addax-no-such-bucket", data_dir)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"addax: cannot migrate to the bucket: bucket addax-no-such-bucket at {s3_server.endpoint_url}: does not exist"
    )

    empty = tmp_path / "empty"
    empty.mkdir()
    result = await migrate(s3_server, s3_server.new_bucket(), empty)
    assert result.returncode == 1
    assert result.stderr.strip() == f"addax: no filesystem object store at {empty / 'objects'}: nothing to migrate"
