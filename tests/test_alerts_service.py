"""Alerts from a real ``addax run``: photos uploaded over HTTPS by a device reach a real SMTP server as mails,
and a SIGKILL between matching and sending still sends each alert exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.background_servers import BackgroundServers
from tests.conftest import world_readable_tempdir
from tests.domain.jpeg_factory import trail_photo
from tests.mail_server import MailServer
from tests.models.graphs import FakeBox, detector_model
from tests.service import AddaxProcess, environment

ANIMAL = FakeBox(32, 32, 16, 8, 0, 0.9)
CAMERAS = 10


@pytest.fixture
def mail_server() -> Iterator[MailServer]:
    """On a loop of its own: this test blocks (urllib, the service's database through asyncio.run)."""
    folder = world_readable_tempdir("addax-alerts-mail-")
    with BackgroundServers(folder) as servers:
        yield servers.mail
    subprocess.run(["rm", "-rf", str(folder)], check=False)


@pytest.fixture
def addax(mail_server: MailServer) -> Iterator[AddaxProcess]:
    home = world_readable_tempdir("addax-alerts-")
    process = AddaxProcess(home=home, env=environment())
    smtp = mail_server.settings()
    process.env.update(
        {
            "ADDAX_MODELS_BATCH_WAIT_MS": "5",
            "ADDAX_SMTP_HOST": smtp.host,
            "ADDAX_SMTP_PORT": str(smtp.port),
            "ADDAX_SMTP_USERNAME": smtp.username,
            "ADDAX_SMTP_PASSWORD": smtp.password,
            "ADDAX_SMTP_FROM_ADDRESS": smtp.from_address,
            "ADDAX_SMTP_STARTTLS": "false",
            "ADDAX_NOTIFICATIONS_RETRY_BASE_S": "3",
        }
    )
    detector_model(home / "models", boxes=[ANIMAL], name="md")
    yield process
    process.kill()
    subprocess.run(["rm", "-rf", str(home)], check=False)


def request(addax: AddaxProcess, path: str, *, body: bytes, headers: dict[str, str]) -> dict:
    call = urllib.request.Request(f"http://127.0.0.1:{addax.http_port}{path}", data=body, headers=headers)
    with urllib.request.urlopen(call, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def upload(addax: AddaxProcess, token: str, name: str, data: bytes) -> None:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request(
        addax,
        "/api/v1/upload",
        body=body,
        headers={"X-API-Token": token, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def a_rule_for_animals(addax: AddaxProcess) -> str:
    """As the first admin: a project, a device token for it, and a rule that mails every animal."""
    assert addax.cli("project", "add", "wolves").returncode == 0
    device = addax.cli("token", "add", "gateway", "--project", "wolves").stdout.strip().splitlines()[-1]
    password = addax.first_admin_password()
    assert password
    login = json.dumps({"email": "admin@localhost", "password": password}).encode()
    token = request(addax, "/api/auth/token", body=login, headers={"Content-Type": "application/json"})["token"]
    rule = {"project": "wolves", "name": "every animal", "labels": ["animal"], "channels": ["email"]}
    made = request(
        addax,
        "/api/alert-rules",
        body=json.dumps(rule).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert made["kind"] == "detection"
    return device


def test_sigkill_between_matching_and_sending_still_sends_each_alert_once(
    addax: AddaxProcess, mail_server: MailServer
) -> None:
    addax.start()
    addax.wait_healthy()
    device = a_rule_for_animals(addax)
    mail_server.fail_temporarily(3)  # three alerts wait for a retry when the service dies
    for index in range(CAMERAS):  # one photo from each of ten cameras: ten events, ten alerts
        upload(addax, device, *trail_photo(index, CAMERAS))
    addax.wait_for(lambda: len(mail_server.messages) >= CAMERAS - 3, timeout=120, what="the first seven mails")
    pending = addax.value("SELECT count(*) FROM notifications WHERE status = 'pending'")
    assert pending == 3, "matched, recorded, not yet sent"
    assert addax.process is not None
    addax.process.send_signal(signal.SIGKILL)
    addax.process.wait()

    addax.start()
    addax.wait_healthy()
    addax.wait_for(
        lambda: addax.value("SELECT count(*) FROM notifications WHERE status <> 'sent'") == 0,
        timeout=120,
        what="every notification sent",
    )
    mails = mail_server.messages
    assert len(mails) == CAMERAS, "each alert exactly once"
    assert len({mail.message["Message-ID"] for mail in mails}) == CAMERAS
    rows = addax.query("SELECT event_id, attempts FROM notifications ORDER BY id")
    assert len(rows) == CAMERAS and len({row["event_id"] for row in rows}) == CAMERAS
    assert sorted(row["attempts"] for row in rows) == [1] * 7 + [2] * 3
    assert addax.stop() == 0
