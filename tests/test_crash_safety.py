"""SIGKILL in the middle of a burst of uploads: after a restart, every photo is stored exactly once."""

from __future__ import annotations

import ftplib
import io
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.actors.ftps import client
from tests.conftest import free_port, world_readable_tempdir
from tests.domain import jpeg_factory
from tests.service import AddaxProcess, environment

PHOTOS_PER_CAMERA = 40
CAMERAS = 4


@pytest.fixture
def addax() -> Iterator[AddaxProcess]:
    home = world_readable_tempdir("addax-crash-")
    process = AddaxProcess(home=home, env=environment())
    process.env["ADDAX_FTP_PORT"] = str(free_port())
    base = free_port()
    process.env["ADDAX_FTP_PASSIVE_PORTS"] = f"{base}-{min(base + 20, 65535)}"
    process.env["ADDAX_FTP_MAX_CONNECTIONS"] = "20"
    yield process
    process.kill()
    subprocess.run(["rm", "-rf", str(home)], check=False)


def camera_uploads(addax: AddaxProcess, serial: str, password: str, acknowledged: list[str], stop: float) -> None:
    """Like a real camera: send each photo until the server says 226, reconnecting when it is gone."""
    port = int(addax.env["ADDAX_FTP_PORT"])
    pending = [
        (f"IMG_{n:04d}.JPG", jpeg_factory.willfine_jpeg(serial=serial, taken=f"2025:12:05 10:{n:02d}:00"))
        for n in range(PHOTOS_PER_CAMERA)
    ]
    session: ftplib.FTP_TLS | None = None
    while pending and time.monotonic() < stop:
        try:
            session = session or client(port, "crashcam", password)
            name, data = pending[0]
            session.storbinary(f"STOR {name}", io.BytesIO(data))
            acknowledged.append(f"{serial}/{name}")
            pending.pop(0)
        except (OSError, EOFError, ftplib.Error):
            session = None
            time.sleep(0.2)  # the server is restarting: try again, as cameras do
    assert not pending, f"{serial}: {len(pending)} photos never acknowledged"


def test_sigkill_mid_burst_loses_nothing_and_duplicates_nothing(addax: AddaxProcess) -> None:
    addax.start()
    addax.wait_healthy()
    assert addax.cli("project", "add", "crash").returncode == 0
    assert (
        addax.cli(
            "ftp-user", "add", "crashcam", "--project", "crash", "--password-stdin", stdin="pw-crash\n"
        ).returncode
        == 0
    )

    acknowledged: list[str] = []
    stop = time.monotonic() + 240
    with ThreadPoolExecutor(CAMERAS) as cameras:
        uploads = [
            cameras.submit(camera_uploads, addax, f"CRASH{n}", "pw-crash", acknowledged, stop) for n in range(CAMERAS)
        ]
        addax.wait_for(lambda: len(acknowledged) >= PHOTOS_PER_CAMERA, what="a quarter of the burst")
        assert addax.process is not None
        addax.process.send_signal(signal.SIGKILL)
        addax.process.wait()
        killed_after = len(acknowledged)
        addax.start()
        addax.wait_healthy()
        for upload in uploads:
            upload.result()
    assert killed_after < CAMERAS * PHOTOS_PER_CAMERA, "the kill happened mid-burst"

    try:
        addax.wait_for(lambda: count_rows(addax) == CAMERAS * PHOTOS_PER_CAMERA, what="every photo stored")
    except AssertionError:
        stages = addax.value(
            "SELECT string_agg(stage || ':' || coalesce(reject_reason, '') || ':'"
            " || coalesce(exif->>'reject_detail', ''), ' ') FROM images WHERE stage <> 'stored'",
        )
        spool = sorted(path.name for path in (addax.home / "data" / "spool").iterdir())
        raise AssertionError(f"not stored: {stages}; spool: {spool}") from None
    duplicates = addax.value("SELECT count(*) - count(DISTINCT (camera_id, original_name)) FROM images")
    assert duplicates == 0
    assert not list((addax.home / "data" / "spool").glob("*.data")), "nothing left waiting in the spool"
    assert addax.stop() == 0


def count_rows(addax: AddaxProcess) -> int:
    return int(addax.value("SELECT count(*) FROM images WHERE stage = 'stored'"))  # type: ignore[arg-type]
