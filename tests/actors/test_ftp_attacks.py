"""The FTPS server against the worst real clients and attackers: raw sockets, pipelined commands,
account swaps, cut data connections, slots held without a login, thousands of wrong passwords."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from addax.actors.ftp import FtpActor, SessionLimits
from addax.domain.secrets import hash_password
from addax.store import accounts
from addax.store.logins import LoginGuard, LoginPolicy
from addax.store.receiving import Receiver
from addax.tls import server_context
from tests.actors.conftest import PASSWORD, Intake
from tests.actors.ftps import RawFtps, tls_context
from tests.conftest import free_port
from tests.domain import jpeg_factory
from tests.waiting import eventually


@dataclass
class Attacker:
    account: str
    password: str
    project_id: int


@pytest.fixture
async def attacker(intake: Intake) -> Attacker:
    """An upload account of another project, whose owner is hostile."""
    project = f"{intake.project}-evil"
    project_id = await accounts.add_project(intake.pool, project, by="test")
    name, password = f"evil-{intake.project[-8:]}", "evil-password"
    await accounts.add_upload_account(intake.pool, name, hash_password(password), project=project, by="test")
    return Attacker(name, password, project_id)


async def server(intake: Intake, receiver: Receiver | None = None, **limits: object) -> int:
    """Another FTPS server on the intake, with its own session limits (or receiver); returns its port."""
    port = free_port()
    await intake.supervisor.start(
        FtpActor(
            name=f"ftp-{port}",
            host="127.0.0.1",
            port=port,
            passive_ports=None,
            tls=lambda: server_context("", "", data_dir=intake.data_dir),
            data_dir=intake.data_dir,
            receiver=receiver or intake.receiver,
            accounts=lambda name: accounts.upload_account(intake.pool, name),
            logins=LoginGuard(pool=intake.pool, policy=LoginPolicy(failure_delay_s=0.05)),
            limits=SessionLimits(**limits),  # type: ignore[arg-type]
        )
    )
    return port


async def rows(intake: Intake, project_id: int) -> list[tuple[str, str, bytes]]:
    found = await intake.pool.fetch(
        "SELECT original_name, upload_account, sha256 FROM images WHERE project_id = $1 ORDER BY id", project_id
    )
    return [(row["original_name"], row["upload_account"], bytes(row["sha256"])) for row in found]


async def test_a_pipelined_user_after_login_cannot_swap_the_account(intake: Intake, attacker: Attacker) -> None:
    photo = jpeg_factory.willfine_jpeg()

    def swap() -> tuple[list[str], str]:
        control = RawFtps(intake.ftp_port)
        control.send(f"USER {attacker.account}", f"PASS {attacker.password}", f"USER {intake.account}", "PROT P")
        answers = control.replies(4)
        stored = control.store("IMG_0001.JPG", photo)
        control.close()
        return answers, stored

    answers, stored = await asyncio.to_thread(swap)
    assert [answer[:3] for answer in answers] == ["331", "230", "503", "200"], answers
    assert stored.startswith("226")
    await intake.settled()
    victim, own = await rows(intake, intake.project_id), await rows(intake, attacker.project_id)
    assert victim == [], "nothing reached the victim's project"
    assert own == [("IMG_0001.JPG", attacker.account, hashlib.sha256(photo).digest())]


async def test_a_user_sent_during_a_transfer_waits_and_is_refused(intake: Intake, attacker: Attacker) -> None:
    photo = jpeg_factory.willfine_jpeg()

    def during() -> list[str]:
        control = RawFtps(intake.ftp_port)
        control.login(attacker.account, attacker.password)
        data = control.data(control.passive())
        control.send("STOR IMG_0002.JPG", f"USER {intake.account}", f"PASS {PASSWORD}")
        assert control.reply().startswith("150")
        secure = tls_context().wrap_socket(data)
        secure.sendall(photo)
        secure.unwrap().close()
        answers = control.replies(3)
        control.close()
        return answers

    answers = await asyncio.to_thread(during)
    assert [answer[:3] for answer in answers] == ["226", "503", "503"], answers
    await intake.settled()
    assert await rows(intake, intake.project_id) == []
    assert [name for name, _, _ in await rows(intake, attacker.project_id)] == ["IMG_0002.JPG"]


async def test_a_data_connection_cut_without_close_notify_is_refused_and_discarded(intake: Intake) -> None:
    photo = jpeg_factory.noisy_jpeg(800, 600)
    assert len(photo) > 50_000

    def cut() -> tuple[str, str]:
        control = RawFtps(intake.ftp_port)
        control.login(intake.account, PASSWORD)
        answer = control.store("IMG_0003.JPG", photo[:50_000], close_notify=False)
        still_there = control.store("IMG_0004.JPG", photo)  # the control connection stays usable
        control.close()
        return answer, still_there

    answer, second = await asyncio.to_thread(cut)
    assert answer.startswith("426") and second.startswith("226")
    await intake.settled()
    assert [name for name, _, _ in await rows(intake, intake.project_id)] == ["IMG_0004.JPG"]
    assert not list(intake.spool.directory.glob("*.part"))


async def test_without_close_notify_required_a_cut_connection_is_accepted_and_logged(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    port = await server(intake, require_close_notify=False)
    photo = jpeg_factory.willfine_jpeg()

    def firmware_without_close_notify() -> str:
        control = RawFtps(port)
        control.login(intake.account, PASSWORD)
        answer = control.store("IMG_0005.JPG", photo, close_notify=False)
        control.close()
        return answer

    assert (await asyncio.to_thread(firmware_without_close_notify)).startswith("226")
    await intake.settled()
    assert [sha for _, _, sha in await rows(intake, intake.project_id)] == [hashlib.sha256(photo).digest()]
    assert "upload accepted without TLS close_notify" in caplog.text


async def test_a_client_that_closes_right_after_its_last_byte_loses_nothing(intake: Intake) -> None:
    photos = [jpeg_factory.willfine_jpeg(taken=f"2025:12:05 10:00:{n:02d}") for n in range(3)]

    def hasty() -> None:
        for n, photo in enumerate(photos):
            control = RawFtps(intake.ftp_port)
            control.login(intake.account, PASSWORD)
            data = control.data(control.passive())
            control.send(f"STOR IMG_{n:04d}.JPG")
            assert control.reply().startswith("150")
            secure = tls_context().wrap_socket(data)
            secure.sendall(photo)
            secure.unwrap().close()
            control.send("QUIT")
            control.close()  # gone before the 226 could even arrive

    await asyncio.to_thread(hasty)

    expected = {hashlib.sha256(photo).digest() for photo in photos}

    async def all_stored() -> bool:
        return {sha for _, _, sha in await rows(intake, intake.project_id)} == expected

    await eventually(all_stored, what="all three photos stored")


async def test_a_client_that_never_reads_its_data_connection_loses_nothing(intake: Intake) -> None:
    # Megabytes each: the server is still reading when the client's socket closes (a reset drops what is unread).
    photos = [jpeg_factory.noisy_jpeg(640 + n, 480) + bytes(4 * 2**20) for n in range(5)]

    def like_curl() -> list[str]:
        control = RawFtps(intake.ftp_port)
        control.login(intake.account, PASSWORD)
        answers = [control.store_like_curl(f"IMG_{n:04d}.JPG", photo) for n, photo in enumerate(photos)]
        control.close()
        return answers

    answers = await asyncio.to_thread(like_curl)
    assert [answer[:3] for answer in answers] == ["226"] * 5, answers
    await intake.settled()
    assert {sha for _, _, sha in await rows(intake, intake.project_id)} == {
        hashlib.sha256(photo).digest() for photo in photos
    }


async def test_thousands_of_wrong_passwords_on_one_connection_are_checked_three_times(intake: Intake) -> None:
    def flood() -> tuple[list[str], bytes]:
        control = RawFtps(intake.ftp_port)
        control.send(f"USER {intake.account}", *(["PASS wrong"] * 5000))
        answers = control.replies(4)
        rest = control.sock.recv(1024)
        control.close()
        return answers, rest

    answers, rest = await asyncio.to_thread(flood)
    assert [answer[:3] for answer in answers[:3]] == ["331", "530", "530"]
    assert answers[3].startswith("530") and "closing after 3 failed logins" in answers[3]
    assert rest == b"", "the server closed the connection"
    failures = await intake.pool.fetchval("SELECT count(*) FROM auth_failures WHERE account = $1", intake.account)
    assert failures == 3
    # the flood cost the camera nothing: the right password still works from the same address
    await asyncio.to_thread(lambda: RawFtps(intake.ftp_port).login(intake.account, PASSWORD))


async def test_twenty_pipelined_guesses_then_the_right_one_do_not_unlock(intake: Intake) -> None:
    def guess(password: str) -> str:
        control = RawFtps(intake.ftp_port)
        control.send(f"USER {intake.account}", f"PASS {password}")
        answer = control.replies(2)[1]
        control.close()
        return answer

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(20) as clients:  # threads of their own: the server needs the loop's for argon2
        answers = await asyncio.gather(*(loop.run_in_executor(clients, guess, f"guess{n}") for n in range(20)))
    assert all(answer.startswith("530") for answer in answers)
    assert sum("too many failed logins" in answer for answer in answers) >= 10, "only ten were ever checked"
    right = await asyncio.to_thread(guess, PASSWORD)
    assert right.startswith("530") and "too many failed logins" in right


async def test_a_connection_that_never_logs_in_is_closed_at_the_deadline(intake: Intake) -> None:
    port = await server(intake, login_timeout_s=0.5)

    def noops_until_closed() -> tuple[list[str], bytes, float]:
        started = time.monotonic()
        control = RawFtps(port, tls=False)
        answers = []
        while not answers or answers[-1].startswith("200"):  # every line used to restart the idle timer
            control.send("NOOP")  # as fast as the server answers: a flood of lines changes nothing
            answers.append(control.reply())
        return answers, control.sock.recv(100), time.monotonic() - started

    answers, rest, lasted = await asyncio.to_thread(noops_until_closed)
    assert len(answers) > 3 and answers[-1].startswith("421") and "login time-out" in answers[-1] and rest == b""
    assert lasted < 5


async def test_one_address_cannot_take_every_slot(intake: Intake) -> None:
    port = await server(intake, max_connections=6, max_per_address=3)

    def open_many() -> list[str]:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
        greetings = [sock.makefile("rb").readline().decode() for sock in held]
        for sock in held:
            sock.close()
        return greetings

    greetings = await asyncio.to_thread(open_many)
    assert [greeting[:3] for greeting in greetings] == ["220", "220", "220", "421"]
    assert "from your address" in greetings[3]


async def test_a_disabled_account_ends_its_open_session_at_the_next_upload(intake: Intake) -> None:
    control = await asyncio.to_thread(RawFtps, intake.ftp_port)
    await asyncio.to_thread(control.login, intake.account, PASSWORD)
    account = await accounts.upload_account(intake.pool, intake.account)
    assert account is not None
    await accounts.disable_upload_account(intake.pool, account.id, by="test")

    def upload() -> tuple[str, bytes]:
        control.passive()
        control.send("STOR IMG_0009.JPG")
        answer = control.reply()
        return answer, control.sock.recv(100)

    answer, rest = await asyncio.to_thread(upload)
    assert answer.startswith("530") and "disabled" in answer and rest == b""
    assert await rows(intake, intake.project_id) == []


async def test_a_disk_that_fills_up_during_a_transfer_refuses_it_with_452(intake: Intake) -> None:
    free = shutil.disk_usage(intake.spool.directory).free
    # enough room when the upload starts; too little once 8 MiB of it are written
    filling = Receiver(
        spool=intake.spool, deliver=intake.ingestor.send, max_bytes=None, min_free_bytes=free - 6 * 2**20
    )
    port = await server(intake, filling)

    def upload() -> str:
        control = RawFtps(port)
        control.login(intake.account, PASSWORD)
        try:
            return control.store("BIG.JPG", jpeg_factory.blank_jpeg() + bytes(12 * 2**20))
        except OSError:  # the server may close the data connection while we still send
            return control.reply()

    assert (await asyncio.to_thread(upload)).startswith("452")
    assert not list(intake.spool.directory.glob("*.part")) and not list(intake.spool.directory.glob("*.data"))


async def test_a_foreign_address_cannot_take_the_cameras_data_connection(intake: Intake) -> None:
    photo = jpeg_factory.willfine_jpeg()

    def race() -> tuple[bytes, str]:
        control = RawFtps(intake.ftp_port)
        control.login(intake.account, PASSWORD)
        port = control.passive()
        intruder = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0))
        refused = intruder.recv(100)  # closed by the server at once
        answer = control.store("IMG_0010.JPG", photo)
        control.close()
        return refused, answer

    refused, answer = await asyncio.to_thread(race)
    assert refused == b"" and answer.startswith("226")
    await intake.settled()
    assert [name for name, _, _ in await rows(intake, intake.project_id)] == ["IMG_0010.JPG"]
