"""E-mail alerts delivered to a real SMTP server: plain with AUTH, STARTTLS, implicit TLS, and its refusals."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage

import pytest

from addax.channels.email import Attachment, compose_email, send_email
from addax.channels.errors import DeliveryFailed
from addax.channels.templates import Rendered
from addax.config import Smtp
from tests.conftest import free_port
from tests.mail_server import PASSWORD, MailServer

RENDERED = Rendered(
    subject="[Addax] roe deer at North gate (cam-07), 02:14",
    text="Roe deer at North gate (cam-07)\n",
    html='<p>Roe deer</p><img src="cid:species-1@addax">',
    telegram="<b>Roe deer</b>",
)
PHOTO = b"\xff\xd8\xff\xe0 an annotated photo " + bytes(range(256)) * 40
THUMB = b"\xff\xd8\xff\xe0 the best roe deer " + bytes(range(256)) * 3


def message(to: str = "ranger@example.org", **kwargs: object) -> EmailMessage:
    return compose_email(to=to, rendered=RENDERED, from_address="addax@example.org", **kwargs)  # type: ignore[arg-type]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def test_plain_with_auth_delivers_text_html_attachment_and_inline_image(mail_server: MailServer) -> None:
    attachments = [
        Attachment("detection-42.jpg", PHOTO),
        Attachment("roe-deer.jpg", THUMB, inline_id="species-1@addax"),
    ]
    await send_email(mail_server.settings(), message(attachments=attachments, message_id="<notification-42@addax>"))

    [received] = await mail_server.wait_for(1)
    mail = received.message
    assert received.mail_from == "addax@example.org"
    assert received.rcpt_tos == ["ranger@example.org"]
    assert mail["Subject"] == RENDERED.subject
    assert mail["Message-ID"] == "<notification-42@addax>"
    assert mail["Date"]
    assert mail.get_body(("plain",)).get_content() == RENDERED.text  # type: ignore[union-attr]
    assert mail.get_body(("html",)).get_content().strip() == RENDERED.html  # type: ignore[union-attr]
    [attached] = list(mail.iter_attachments())
    assert attached.get_filename() == "detection-42.jpg"
    assert sha256(attached.get_content()) == sha256(PHOTO)
    [inline] = [part for part in mail.walk() if part["Content-ID"]]
    assert inline["Content-ID"] == "<species-1@addax>"
    assert inline.get_content_disposition() == "inline"
    assert inline.get_content_type() == "image/jpeg"
    assert sha256(inline.get_content()) == sha256(THUMB)
    assert inline in list(mail.get_body(("related",)).iter_parts())  # type: ignore[union-attr]


async def test_starttls_trusting_the_servers_ca(tls_mail_server: MailServer) -> None:
    await send_email(tls_mail_server.settings(), message())
    [received] = await tls_mail_server.wait_for(1)
    assert received.message["Subject"] == RENDERED.subject


async def test_starttls_without_the_ca_is_refused_and_transient(tls_mail_server: MailServer) -> None:
    with pytest.raises(DeliveryFailed) as failure:
        await send_email(tls_mail_server.settings(ca_file=""), message())
    assert not failure.value.permanent
    assert "certificate" in str(failure.value).lower()


async def test_implicit_tls(implicit_tls_mail_server: MailServer) -> None:
    await send_email(implicit_tls_mail_server.settings(), message())
    [received] = await implicit_tls_mail_server.wait_for(1)
    assert received.rcpt_tos == ["ranger@example.org"]


async def test_a_wrong_password_is_transient_and_not_quoted(mail_server: MailServer) -> None:
    with pytest.raises(DeliveryFailed) as failure:
        await send_email(mail_server.settings(password="not-the-password"), message())
    assert not failure.value.permanent
    assert "login" in str(failure.value)
    assert "not-the-password" not in str(failure.value) and PASSWORD not in str(failure.value)


async def test_a_refused_recipient_is_permanent(mail_server: MailServer) -> None:
    mail_server.refuse("gone@example.org")
    with pytest.raises(DeliveryFailed) as failure:
        await send_email(mail_server.settings(), message(to="gone@example.org"))
    assert failure.value.permanent
    assert "gone@example.org" in str(failure.value) and "550" in str(failure.value)
    assert "\n" not in str(failure.value)


async def test_451_is_transient_and_the_next_try_goes_through(mail_server: MailServer) -> None:
    mail_server.fail_temporarily(1)
    with pytest.raises(DeliveryFailed) as failure:
        await send_email(mail_server.settings(), message(message_id="<notification-7@addax>"))
    assert not failure.value.permanent
    assert "451" in str(failure.value)

    await send_email(mail_server.settings(), message(message_id="<notification-7@addax>"))
    [received] = await mail_server.wait_for(1)
    assert received.message["Message-ID"] == "<notification-7@addax>"


async def test_an_unreachable_port_is_transient(mail_server: MailServer) -> None:
    with pytest.raises(DeliveryFailed) as failure:
        await send_email(mail_server.settings(port=free_port()), message())
    assert not failure.value.permanent


async def test_an_empty_host_is_permanent() -> None:
    with pytest.raises(DeliveryFailed, match=r"smtp\.host is not set") as failure:
        await send_email(Smtp(host="", from_address="addax@example.org"), message())
    assert failure.value.permanent


def test_message_id_and_date_are_set_without_an_id_given() -> None:
    mail = message()
    assert mail["Message-ID"].startswith("<") and mail["Message-ID"].endswith("@addax>")
    assert mail["Date"]


def test_an_empty_from_address_is_permanent() -> None:
    with pytest.raises(DeliveryFailed, match=r"smtp\.from_address is not set") as failure:
        compose_email(to="ranger@example.org", rendered=RENDERED, from_address="")
    assert failure.value.permanent
