"""Alerts by e-mail: a MIME message from a rendered notification, and one SMTP delivery of it.

The message's structure::

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain
    │   └── multipart/related       (only with inline images)
    │       ├── text/html
    │       └── image/jpeg ...      Content-ID: <inline_id>, shown by <img src="cid:inline_id">
    └── image/jpeg ...              attachments
"""

from __future__ import annotations

import email.utils
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from addax.channels.errors import DeliveryFailed
from addax.channels.templates import Rendered
from addax.config import Smtp


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    data: bytes
    mime: str = "image/jpeg"
    inline_id: str | None = None
    """Set: an image that the HTML body shows by ``cid:<inline_id>``; else a normal attachment."""


def compose_email(
    *,
    to: str,
    rendered: Rendered,
    from_address: str,
    attachments: Sequence[Attachment] = (),
    message_id: str | None = None,
) -> EmailMessage:
    """``message_id`` (say ``<notification-42@addax>``) is kept as the Message-ID, so a resent copy is recognised."""
    if not from_address:
        raise DeliveryFailed("smtp.from_address is not set", permanent=True)
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = from_address
    message["To"] = to
    message["Date"] = email.utils.formatdate(localtime=True)
    message["Message-ID"] = message_id or email.utils.make_msgid(domain="addax")
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    html = list(message.iter_parts())[-1]  # the text/html part, which holds the inline images
    for attachment in attachments:
        maintype, _, subtype = attachment.mime.partition("/")
        if attachment.inline_id:
            cid = f"<{attachment.inline_id.strip('<>')}>"
            html.add_related(
                attachment.data, maintype, subtype, cid=cid, filename=attachment.filename, disposition="inline"
            )
        else:
            message.add_attachment(attachment.data, maintype, subtype, filename=attachment.filename)
    return message


async def send_email(settings: Smtp, message: EmailMessage) -> None:
    """Deliver ``message`` to its To address.

    ``smtp.tls``: implicit TLS; else ``smtp.starttls``: STARTTLS, required; else plain. A login when
    ``smtp.username`` is set. Every failure is a :class:`DeliveryFailed`: permanent for a 5xx answer (a refused
    recipient), transient for a 4xx answer, a refused login, or a connection that failed or timed out.
    """
    if not settings.host:
        raise DeliveryFailed("smtp.host is not set", permanent=True)
    server = f"{settings.host}:{settings.port}"
    try:
        refused, _ = await aiosmtplib.send(
            message,
            hostname=settings.host,
            port=settings.port,
            username=settings.username or None,
            password=settings.password or None,
            use_tls=settings.tls,
            start_tls=settings.starttls and not settings.tls,
            tls_context=_tls_context(settings) if settings.tls or settings.starttls else None,
            timeout=settings.timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as error:
        raise _refused(server, error.recipients) from None
    except aiosmtplib.SMTPAuthenticationError as error:
        raise DeliveryFailed(
            f"{server} refused the login of {settings.username!r}: {error.code} {_one_line(error.message)}"
        ) from None
    except aiosmtplib.SMTPResponseException as error:
        raise DeliveryFailed(
            f"{server} answered {error.code} {_one_line(error.message)}", permanent=error.code >= 500
        ) from None
    except (aiosmtplib.SMTPException, OSError) as error:  # connection refused, timeouts, TLS errors
        raise DeliveryFailed(f"cannot deliver through {server}: {_one_line(str(error))}") from None
    if refused:
        raise _refused(
            server, [aiosmtplib.SMTPRecipientRefused(r.code, r.message, address) for address, r in refused.items()]
        )


async def check_server(settings: Smtp) -> str:
    """Connect, secure and log in as a delivery would, send nothing (for ``addax doctor``); what was done."""
    if not settings.host:
        raise DeliveryFailed("smtp.host is not set", permanent=True)
    if not settings.from_address:
        raise DeliveryFailed("smtp.from_address is not set", permanent=True)
    server = f"{settings.host}:{settings.port}"
    client = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        use_tls=settings.tls,
        start_tls=settings.starttls and not settings.tls,
        tls_context=_tls_context(settings) if settings.tls or settings.starttls else None,
        timeout=settings.timeout_s,
    )
    try:
        async with client:
            if settings.username:
                await client.login(settings.username, settings.password)
    except aiosmtplib.SMTPAuthenticationError as error:
        raise DeliveryFailed(f"{server} refused the login of {settings.username!r}: {error.code}") from None
    except (aiosmtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"cannot reach {server}: {_one_line(str(error))}") from None
    secured = "implicit TLS" if settings.tls else "STARTTLS" if settings.starttls else "no TLS"
    return f"{server}, {secured}, " + (f"logged in as {settings.username}" if settings.username else "no login")


def _tls_context(settings: Smtp) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=settings.ca_file or None)
    except (OSError, ssl.SSLError) as error:
        raise DeliveryFailed(f"smtp.ca_file: cannot load {settings.ca_file}: {error}", permanent=True) from None


def _refused(server: str, recipients: Sequence[aiosmtplib.SMTPRecipientRefused]) -> DeliveryFailed:
    reasons = "; ".join(f"{r.recipient} ({r.code} {_one_line(r.message)})" for r in recipients)
    return DeliveryFailed(f"{server} refused the recipient {reasons}", permanent=all(r.code >= 500 for r in recipients))


def _one_line(text: str) -> str:
    return " ".join(text.split())
