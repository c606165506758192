"""`addax run` as a subprocess: start, health, login page, SIGTERM, restart with data, faults at start-up."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import world_readable_tempdir
from tests.service import AddaxProcess, environment, postmaster_pid


@pytest.fixture
def home() -> Iterator[Path]:
    path = world_readable_tempdir("addax-service-")
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


@pytest.fixture
def addax(home: Path) -> Iterator[AddaxProcess]:
    process = AddaxProcess(home=home, env=environment())
    yield process
    process.kill()


def test_runs_stops_on_sigterm_and_finds_its_data_again(addax: AddaxProcess) -> None:
    addax.start()
    health = addax.wait_healthy()
    assert set(health["actors"]) == {
        *("postgres", "redis", "database", "queue", "objects", "ingestor", "ftp", "http", "ui"),
        *("relay", "detector-model", "detector", "classifier-model", "classifier", "finisher"),
        *("courier", "notifier", "scheduler"),  # no "telegram": no bot token
    }
    password = addax.first_admin_password()
    assert password, "the first admin's password is printed once"
    status, page = addax.get("/login", port=addax.ui_port)
    assert status == 200 and "sign in" in page.lower()

    started = time.monotonic()
    assert addax.stop() == 0
    assert time.monotonic() - started < 30
    assert not (addax.home / "data" / "pg" / "postmaster.pid").exists(), "PostgreSQL was shut down cleanly"

    addax.start()
    addax.wait_healthy()
    assert addax.first_admin_password() is None, "no second admin on the second start"
    status, body = addax.post_json("/api/auth/token", {"email": "admin@localhost", "password": password})
    assert status == 200 and body["token"]
    assert addax.stop() == 0


def test_killed_postgres_is_restarted_and_service_recovers(addax: AddaxProcess) -> None:
    addax.start()
    addax.wait_healthy()
    first = postmaster_pid(addax.home / "data")
    os.kill(first, signal.SIGKILL)

    def restarted() -> bool:
        status, body = addax.get("/api/health")
        return status == 200 and '"restarts": 1' in body and (addax.home / "data/pg/postmaster.pid").exists()

    addax.wait_for(restarted, what="postgres restarted and health ok")
    assert postmaster_pid(addax.home / "data") != first
    status, body = addax.post_json("/api/auth/token", {"email": "admin@localhost", "password": "wrong"})
    assert status == 401, body  # the database answers again
    assert addax.stop() == 0


def test_stale_postmaster_pid_after_a_crash_is_cleared(addax: AddaxProcess) -> None:
    addax.start()
    addax.wait_healthy()
    orphan = postmaster_pid(addax.home / "data")
    addax.kill()  # SIGKILL: no clean shutdown of ours
    addax.wait_for(lambda: not Path(f"/proc/{orphan}").exists(), what="postgres to follow its dead parent")
    lock = addax.home / "data" / "pg" / "postmaster.pid"
    sleeper = subprocess.Popen(["sleep", "60"])  # a live process that is not postgres holds the old PID's place
    try:
        lines = lock.read_text().split("\n") if lock.exists() else ["", "", "", "", "", "", "", ""]
        lines[0] = str(sleeper.pid)
        lines[1] = str(addax.home / "data" / "pg")
        lock.write_text("\n".join(lines))
        addax.start()
        addax.wait_healthy()
        assert any("stale postmaster.pid" in event.get("event", "") for event in addax.events())
        assert sleeper.poll() is None, "the unrelated process was left alone"
    finally:
        sleeper.kill()
    assert addax.stop() == 0


def test_port_in_use_is_named(addax: AddaxProcess) -> None:
    import socket

    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", addax.http_port))
        taken.listen()
        addax.start()
        assert addax.process is not None
        code = addax.process.wait(90)
    assert code == 1
    assert f"http.port: port {addax.http_port} on 127.0.0.1 is already in use" in addax.log()
    assert not (addax.home / "data" / "pg" / "postmaster.pid").exists(), "what had started was stopped"


def test_data_dir_not_writable(addax: AddaxProcess) -> None:
    blocker = addax.home / "a-file"
    blocker.write_text("not a directory")
    addax.env["ADDAX_GENERAL_DATA_DIR"] = str(blocker / "data")
    result = addax.cli("run")
    assert result.returncode == 1
    assert f"general.data_dir: {blocker / 'data'} is not writable" in result.stderr


def test_missing_postgres_binaries_name_the_package(addax: AddaxProcess) -> None:
    addax.env["ADDAX_DATABASE_BIN_DIR"] = str(addax.home / "no-postgres-here")
    result = addax.cli("run")
    assert result.returncode == 1
    assert "PostgreSQL server binaries not found" in result.stderr
    assert "postgresql-15-postgis-3" in result.stderr


def test_corrupt_config_is_one_clear_line(addax: AddaxProcess) -> None:
    (addax.home / "config.toml").write_text("[http]\nport = 80 80\n")
    result = addax.cli("run", timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith("addax: bad configuration:") and "not valid TOML" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    (addax.home / "config.toml").write_text("[database]\npool_size = 'ten'\n")
    result = addax.cli("run", timeout=30)
    assert result.returncode == 1 and "database.pool_size: expected int, got 'ten'" in result.stderr


def test_admin_commands_work_without_a_running_service_and_are_audited(addax: AddaxProcess) -> None:
    assert addax.cli("project", "add", "wolves").returncode == 0
    added = addax.cli(
        "user",
        "add",
        "eva@example.org",
        "--role",
        "viewer",
        "--project",
        "wolves",
        "--password-stdin",
        stdin="correct horse\n",
    )
    assert added.returncode == 0, added.stderr
    ftp = addax.cli("ftp-user", "add", "cam01", "--project", "wolves")
    assert ftp.returncode == 0 and "password (shown once):" in ftp.stdout
    token = addax.cli("token", "add", "gateway", "--project", "wolves")
    assert token.returncode == 0 and len(token.stdout.strip().splitlines()[-1]) >= 40
    duplicate = addax.cli("project", "add", "wolves")
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    settings = addax.cli(
        "project", "set", "wolves", "--timezone", "Europe/Oslo", "--require-camera-registration", "yes"
    )
    assert settings.returncode == 0 and "timezone = Europe/Oslo" in settings.stdout
    bad_zone = addax.cli("project", "set", "wolves", "--timezone", "Mars/Olympus")
    assert bad_zone.returncode == 1 and "unknown time zone" in bad_zone.stderr

    addax.start()
    addax.wait_healthy()
    status, body = addax.post_json("/api/auth/token", {"email": "eva@example.org", "password": "correct horse"})
    assert status == 200, body
    assert addax.stop() == 0


def test_import_is_resumable_and_reprocess_brings_back_rejections(addax: AddaxProcess) -> None:
    from tests.domain import jpeg_factory

    card = addax.home / "sdcard" / "DCIM" / "100RECNX"
    card.mkdir(parents=True)
    for n in range(5):
        (card / f"RCNX{n:04d}.JPG").write_bytes(jpeg_factory.reconyx_jpeg(taken=f"2025:06:14 05:12:0{n}"))
    (card / "RCNX0099.JPG").write_bytes(b"\xff\xd8\xff" + b"garbage")
    whole = jpeg_factory.reconyx_jpeg(taken="2025:06:14 05:13:00")
    (card / "RCNX0100.JPG").write_bytes(whole[: len(whole) // 2])  # a card pulled while the camera wrote
    (card / "RCNX0101.JPG").write_bytes(b"")
    (card / "RCNX0102.JPG").write_bytes(jpeg_factory.reconyx_jpeg(taken="2025:06:14 05:12:00"))  # a copy of 0000
    assert addax.cli("project", "add", "deer").returncode == 0

    first = addax.cli("import", str(addax.home / "sdcard"), "--project", "deer")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "1 duplicates, 5 imported",
        "3 rejected: corrupt_image 2, empty_file 1 (see GET /api/rejections)",
    ]
    again = addax.cli("import", str(addax.home / "sdcard"), "--project", "deer")
    assert again.stdout.splitlines() == ["9 already imported"]

    reprocessed = addax.cli("reprocess", "--reason", "corrupt_image")
    assert reprocessed.returncode == 0
    assert reprocessed.stdout.splitlines()[-1].startswith("2 rejected: corrupt_image 2")
    (card / "RCNX0200.JPG").write_bytes(jpeg_factory.reconyx_jpeg(taken="2025:06:15 05:12:00"))  # a new photo
    full_disk = {"ADDAX_FTP_MIN_FREE_MB": "999999999"}  # more than any disk has
    full = addax.cli("import", str(addax.home / "sdcard"), "--project", "deer", env=full_disk)
    assert full.returncode == 1 and "insufficient storage space" in full.stderr, full.stderr
    after = addax.cli("import", str(addax.home / "sdcard"), "--project", "deer")
    assert after.stdout.splitlines() == ["9 already imported, 1 imported"], "nothing was lost or half-done"
    missing = addax.cli("import", str(addax.home / "nowhere"), "--project", "deer")
    assert missing.returncode == 1 and "is not a directory" in missing.stderr


def test_a_second_service_on_the_same_data_dir_is_refused(addax: AddaxProcess) -> None:
    addax.start()
    addax.wait_healthy()
    second = AddaxProcess(home=addax.home, env=environment())
    second.env["ADDAX_GENERAL_DATA_DIR"] = addax.env["ADDAX_GENERAL_DATA_DIR"]
    result = second.cli("run", timeout=60)
    assert result.returncode == 1 and "another Addax process" in result.stderr
    assert addax.cli("project", "add", "jail").returncode == 0
    bad_account = addax.cli("ftp-user", "add", "..", "--project", "jail", "--password-stdin", stdin="pw\n")
    assert bad_account.returncode == 1 and "letters, digits" in bad_account.stderr
    assert addax.stop() == 0
