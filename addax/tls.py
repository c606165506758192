"""TLS for the FTPS server: the operator's certificate, or a self-signed one made on first start."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import secrets
import socket
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger("addax.tls")


class CertificateError(Exception):
    """The configured certificate or key cannot be used."""


def write_private(path: Path, data: bytes) -> None:
    """Write a secret so that it is never readable by others, not even for a moment."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as secret:
        secret.write(data)


def persistent_secret(path: Path) -> str:
    """A random secret made once and kept in ``path`` (readable by this user only)."""
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32).encode())
    return path.read_text().strip()


def self_signed(cert_file: Path, key_file: Path, *, common_name: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(common_name),
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_private(
        key_file,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def server_context(cert_file: str, key_file: str, *, data_dir: Path, section: str = "ftp") -> ssl.SSLContext:
    """The configured certificate, or data_dir/tls/<section>.{crt,key}, created when missing."""
    if bool(cert_file) != bool(key_file):
        raise CertificateError(
            f"{section}.cert_file and {section}.key_file: set both, or neither for a self-signed certificate"
        )
    default = data_dir / "tls" / ("ftps" if section == "ftp" else section)
    cert, key = (
        (Path(cert_file), Path(key_file)) if cert_file else (default.with_suffix(".crt"), default.with_suffix(".key"))
    )
    if not cert_file and not cert.exists():
        self_signed(cert, key, common_name=socket.getfqdn())
        log.info("created a self-signed certificate", extra={"section": section, "cert": str(cert)})
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as error:
        raise CertificateError(
            f"{section}.cert_file/{section}.key_file: cannot load {cert} and {key}: {error}"
        ) from None
    return context
