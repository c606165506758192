"""Real-size photos from curl and ftplib (FTPS) and curl (HTTPS upload) into `addax run` (uvloop, as
deployed), at full speed: every object in the store is, byte for byte, the photo that was sent.

curl is what many camera firmwares embed; under uvloop's TLS its uploads of photos over ~200 KB were
cut at 16 KiB record boundaries and still acknowledged (issue 8, item 2).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.actors.ftps import client, curl_command, store_files
from tests.conftest import world_readable_tempdir
from tests.domain.jpeg_factory import trail_photo
from tests.service import AddaxProcess, environment, free_port_range

PHOTOS = 1000
CURL_CLIENTS, FTPLIB_CLIENTS = 5, 5
PASSWORD = "upload password"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by make test")


@pytest.fixture
def addax() -> Iterator[AddaxProcess]:
    home = world_readable_tempdir("addax-uploads-")
    process = AddaxProcess(home=home, env=environment())
    process.env |= {"ADDAX_FTP_HOST": "127.0.0.1", "ADDAX_FTP_PASSIVE_PORTS": free_port_range(50)}
    yield process
    process.kill()
    shutil.rmtree(home, ignore_errors=True)


def curl_camera(port: int, files: list[Path]) -> None:
    result = subprocess.run(curl_command(port, "cam", PASSWORD, files), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr


def ftplib_camera(port: int, files: list[Path]) -> None:
    session = client(port, "cam", PASSWORD)
    try:
        store_files(session, files)
    finally:
        session.quit()


def test_a_thousand_real_size_uploads_from_curl_and_ftplib_are_stored_byte_identical(
    addax: AddaxProcess, tmp_path: Path
) -> None:
    cameras = CURL_CLIENTS + FTPLIB_CLIENTS
    sent: dict[str, str] = {}
    for index in range(PHOTOS):
        name, data = trail_photo(index, cameras)
        (tmp_path / name).write_bytes(data)
        sent[hashlib.sha256(data).hexdigest()] = name
    files = sorted(tmp_path.iterdir())
    assert min(path.stat().st_size for path in files) > 400_000, "real-size photos, over the 16 KiB records"

    addax.start()
    addax.wait_healthy()
    assert addax.cli("project", "add", "uploads").returncode == 0
    account = addax.cli("ftp-user", "add", "cam", "--project", "uploads", "--password-stdin", stdin=PASSWORD + "\n")
    assert account.returncode == 0, account.stderr
    port = int(addax.env["ADDAX_FTP_PORT"])
    with ThreadPoolExecutor(cameras) as clients:
        uploads = [
            clients.submit(curl_camera if k < CURL_CLIENTS else ftplib_camera, port, files[k::cameras])
            for k in range(cameras)
        ]
        for upload in uploads:
            upload.result()  # every photo acknowledged (226)

    addax.wait_for(
        lambda: addax.value("SELECT count(*) FROM images") == PHOTOS, timeout=300, what=f"{PHOTOS} image rows"
    )
    rows = addax.query("SELECT encode(sha256, 'hex') AS sha, stage, original_name, original_key FROM images")
    assert {row["stage"] for row in rows} == {"stored"}
    assert {row["sha"] for row in rows} == set(sent), "every photo sent is stored, nothing else"
    objects = addax.home / "data" / "objects"
    for row in rows:
        stored = hashlib.sha256((objects / row["original_key"]).read_bytes()).hexdigest()
        assert stored == row["sha"] and sent[stored] == row["original_name"]
    addax.stop()


def test_parallel_http_uploads_from_curl_are_stored_byte_identical(addax: AddaxProcess, tmp_path: Path) -> None:
    photos = []
    for index in range(20):
        name, data = trail_photo(index, 4)
        (tmp_path / name).write_bytes(data)
        photos.append(tmp_path / name)
    sent = {hashlib.sha256(path.read_bytes()).hexdigest() for path in photos}
    addax.start()
    addax.wait_healthy()
    assert addax.cli("project", "add", "gateway").returncode == 0
    token = addax.cli("token", "add", "relay", "--project", "gateway").stdout.strip().splitlines()[-1]
    url = f"http://127.0.0.1:{addax.http_port}/api/v1/upload"

    def curl_upload(path: Path) -> str:
        command = ["curl", "--silent", "--show-error", "--write-out", "%{http_code}", "--output", "/dev/null"]
        command += ["-H", f"X-API-Token: {token}", "-F", f"file=@{path}", url]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout

    with ThreadPoolExecutor(10) as clients:
        assert set(clients.map(curl_upload, photos)) == {"202"}  # answered once each file is safe on disk
    addax.wait_for(lambda: addax.value("SELECT count(*) FROM images") == len(photos), what="20 image rows")
    objects = addax.home / "data" / "objects"
    stored = {
        hashlib.sha256((objects / row["original_key"]).read_bytes()).hexdigest()
        for row in addax.query("SELECT original_key FROM images WHERE stage = 'stored'")
    }
    assert stored == sent
    addax.stop()
