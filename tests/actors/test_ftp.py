"""The FTPS server with real clients over TLS: ftplib.FTP_TLS and curl --ssl-reqd."""

from __future__ import annotations

import asyncio
import ftplib
import io
import shutil
import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.actors.conftest import PASSWORD, Intake
from tests.actors.ftps import client, upload
from tests.domain import jpeg_factory
from tests.waiting import eventually


async def test_photo_over_ftps_is_stored_under_its_camera(intake: Intake) -> None:
    photo = jpeg_factory.willfine_jpeg()
    await asyncio.to_thread(upload, intake.ftp_port, intake.account, PASSWORD, {"IMG_0001.JPG": photo})
    await intake.settled()
    rows = await intake.images()
    assert len(rows) == 1
    image = rows[0]
    assert image["stage"] == "stored" and image["original_name"] == "IMG_0001.JPG" and image["source"] == "ftp"
    assert (intake.data_dir / "objects" / image["original_key"]).read_bytes() == photo
    camera = await intake.pool.fetchrow("SELECT * FROM cameras WHERE id = $1", image["camera_id"])
    assert camera["identity"] == jpeg_factory.WILLFINE_SERIAL and camera["status"] == "pending"
    assert image["site_id"] is not None and image["deployment_id"] is not None


async def test_login_without_tls_is_refused(intake: Intake) -> None:
    def plain_login() -> str:
        ftp = ftplib.FTP(timeout=10)
        ftp.connect("127.0.0.1", intake.ftp_port)
        try:
            ftp.login(intake.account, PASSWORD)
        except ftplib.error_perm as refused:
            return str(refused)
        finally:
            ftp.close()
        return "logged in"

    assert "TLS required" in await asyncio.to_thread(plain_login)


async def test_wrong_password_then_lockout(intake: Intake) -> None:
    def attempt(password: str) -> str:
        try:
            client(intake.ftp_port, intake.account, password).quit()
            return "ok"
        except ftplib.error_perm as refused:
            return str(refused)

    for _ in range(10):
        assert "wrong name or password" in await asyncio.to_thread(attempt, "nope")
    assert "too many failed logins" in await asyncio.to_thread(attempt, PASSWORD)


async def test_same_name_twice_is_two_files_and_same_bytes_twice_is_one(intake: Intake) -> None:
    first, second = (
        jpeg_factory.willfine_jpeg(taken="2025:12:05 10:00:00"),
        jpeg_factory.willfine_jpeg(taken="2025:12:05 11:00:00"),
    )
    for data in (first, second, second):  # SD-card reset re-uses IMG_0001.JPG; a retry re-sends the same bytes
        await asyncio.to_thread(upload, intake.ftp_port, intake.account, PASSWORD, {"IMG_0001.JPG": data})
    await intake.settled()
    assert len(await intake.images()) == 2


async def test_path_traversal_stays_in_the_account_home(intake: Intake) -> None:
    def escape() -> list[str]:
        ftp = client(intake.ftp_port, intake.account, PASSWORD)
        try:
            ftp.cwd("../../..")
            where = ftp.pwd()
            ftp.storbinary("STOR ../../escaped.jpg", io.BytesIO(jpeg_factory.willfine_jpeg()))
            listing: list[str] = []
            ftp.retrlines("LIST /", listing.append)
            return [where, *listing]
        finally:
            ftp.quit()

    listing = await asyncio.to_thread(escape)
    assert listing[0] == "/"
    await intake.settled()
    assert not (intake.data_dir / "escaped.jpg").exists() and not (intake.data_dir.parent / "escaped.jpg").exists()
    rows = await intake.images()
    assert [row["original_name"] for row in rows] == ["escaped.jpg"]  # landed, but inside the jail


async def test_rename_after_upload_ingests_the_final_name(intake: Intake) -> None:
    def upload_then_rename() -> None:
        ftp = client(intake.ftp_port, intake.account, PASSWORD)
        try:
            ftp.storbinary("STOR .IMG_0042.JPG.tmp", io.BytesIO(jpeg_factory.reconyx_jpeg()))
            ftp.rename(".IMG_0042.JPG.tmp", "IMG_0042.JPG")
        finally:
            ftp.quit()

    await asyncio.to_thread(upload_then_rename)
    await intake.settled()
    assert [row["original_name"] for row in await intake.images()] == ["IMG_0042.JPG"]


async def test_cut_off_upload_is_discarded(intake: Intake, caplog: pytest.LogCaptureFixture) -> None:
    def cut_off() -> None:
        ftp = client(intake.ftp_port, intake.account, PASSWORD)
        data = ftp.transfercmd("STOR IMG_0099.JPG")
        data.sendall(jpeg_factory.willfine_jpeg()[:300])
        ftp.sock.shutdown(socket.SHUT_RDWR)  # signal lost: the control connection goes first
        ftp.sock.close()
        data.close()

    await asyncio.to_thread(cut_off)
    await eventually(lambda: "partial upload discarded" in caplog.text, timeout=10, what="the discard to be logged")
    await intake.settled()
    assert await intake.images() == []
    assert not list((intake.data_dir / "spool").iterdir())


async def test_file_over_the_size_limit_is_refused(intake: Intake) -> None:
    big = jpeg_factory.blank_jpeg() + b"\0" * (6 * 2**20)
    with pytest.raises(ftplib.error_perm, match="552"):
        await asyncio.to_thread(upload, intake.ftp_port, intake.account, PASSWORD, {"BIG.JPG": big})
    assert await intake.images() == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is installed by make test")
async def test_curl_with_ssl_reqd_uploads(intake: Intake, tmp_path) -> None:
    photo = tmp_path / "IMG_0007.JPG"
    photo.write_bytes(jpeg_factory.bushnell_jpeg())
    result = await asyncio.to_thread(
        subprocess.run,
        [
            "curl",
            "--silent",
            "--show-error",
            "--ssl-reqd",
            "--insecure",
            "--ftp-pasv",
            "-T",
            str(photo),
            "--user",
            f"{intake.account}:{PASSWORD}",
            f"ftp://127.0.0.1:{intake.ftp_port}/bushnell/",
            "--ftp-create-dirs",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    await intake.settled()
    rows = await intake.images()
    assert [row["original_name"] for row in rows] == ["IMG_0007.JPG"]
    assert rows[0]["exif"]["upload_path"] == "bushnell"


async def test_a_thousand_photos_from_ten_cameras_at_once_are_each_stored_once(intake: Intake) -> None:
    photos = {
        n: {
            f"IMG_{i:04d}.JPG": jpeg_factory.willfine_jpeg(
                serial=f"WF{n:04d}", taken=f"2025:12:05 {10 + i // 60}:{i % 60:02d}:00"
            )
            for i in range(100)
        }
        for n in range(10)
    }
    # The clients get threads of their own: the server needs the loop's default executor (password checks).
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=10) as cameras:
        await asyncio.gather(
            *(
                loop.run_in_executor(cameras, upload, intake.ftp_port, intake.account, PASSWORD, files)
                for files in photos.values()
            )
        )
    await intake.settled()
    rows = await intake.images()
    assert len(rows) == 1000 and {row["stage"] for row in rows} == {"stored"}
    assert len({(row["camera_id"], row["original_name"]) for row in rows}) == 1000
    assert await intake.pool.fetchval("SELECT count(*) FROM cameras WHERE project_id = $1", intake.project_id) == 10


async def test_a_nearly_full_disk_refuses_uploads_cleanly(intake: Intake) -> None:
    from addax.actors.ftp import FtpActor, SessionLimits
    from addax.store import accounts
    from addax.store.logins import LoginGuard, LoginPolicy
    from addax.store.receiving import Receiver
    from addax.tls import server_context
    from tests.conftest import free_port

    port = free_port()
    pool = intake.pool
    await intake.supervisor.start(
        FtpActor(
            name="ftp-full-disk",
            host="127.0.0.1",
            port=port,
            passive_ports=None,
            tls=lambda: server_context("", "", data_dir=intake.data_dir),
            data_dir=intake.data_dir,
            # more free space wanted than any disk has: the server believes the disk is full
            receiver=Receiver(
                spool=intake.spool, deliver=intake.ingestor.send, max_bytes=5 * 2**20, min_free_bytes=2**60
            ),
            accounts=lambda name: accounts.upload_account(pool, name),
            logins=LoginGuard(pool=pool, policy=LoginPolicy(failure_delay_s=0.05)),
            limits=SessionLimits(max_connections=8),
        )
    )
    with pytest.raises(ftplib.error_temp, match="452 insufficient storage"):
        await asyncio.to_thread(upload, port, intake.account, PASSWORD, {"IMG_0001.JPG": jpeg_factory.willfine_jpeg()})
    # What was received before stays: the intake's own server still takes the file.
    await asyncio.to_thread(
        upload, intake.ftp_port, intake.account, PASSWORD, {"IMG_0001.JPG": jpeg_factory.willfine_jpeg()}
    )
    await intake.settled()
    assert len(await intake.images()) == 1


async def test_renaming_a_directory_into_place_is_refused(intake: Intake) -> None:
    def rename_directory() -> str:
        ftp = client(intake.ftp_port, intake.account, PASSWORD)
        try:
            ftp.mkd("folder")
            try:
                ftp.rename("folder", "IMG_0001.JPG")
            except ftplib.error_perm as refused:
                return str(refused)
            return "renamed"
        finally:
            ftp.quit()

    assert (await asyncio.to_thread(rename_directory)).startswith("550")
    assert not [path for path in (intake.data_dir / "spool").iterdir() if path.is_dir()]


def test_uploads_left_under_a_temporary_name_are_removed_after_a_day(tmp_path) -> None:
    import os
    import time

    from addax.actors.ftp.actor import STALE_TEMPORARY_S, remove_stale_temporary_files

    home = tmp_path / "cam01" / "INSTAR"
    home.mkdir(parents=True)
    old = time.time() - STALE_TEMPORARY_S - 60
    for name in (".IMG_1.JPG.tmp", "IMG_2.JPG.part", "~IMG_3.JPG", ".IMG_4.JPG.tmp", "notes.txt"):
        (home / name).write_bytes(b"x")
    for name in (".IMG_1.JPG.tmp", "IMG_2.JPG.part", "~IMG_3.JPG", "notes.txt"):
        os.utime(home / name, (old, old))
    assert remove_stale_temporary_files(tmp_path, STALE_TEMPORARY_S) == 3
    assert sorted(path.name for path in home.iterdir()) == [".IMG_4.JPG.tmp", "notes.txt"]
