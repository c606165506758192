"""Password hashes (argon2id) and random tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

# Login fields longer than these are refused before any hashing (argon2 over a megabyte is work for nothing).
MAX_EMAIL_CHARS = 320
# Someone's address, not markup: one @, no spaces or control characters, no double quotes, angle brackets,
# backticks or backslashes (they have no place in the addresses people use; an apostrophe does: o'brien@x.org).
EMAIL = re.compile(r"[^\s@\"<>\\`\x00-\x1f\x7f]+@[^\s@\"<>\\`\x00-\x1f\x7f]+")


def plausible_email(text: str) -> bool:
    return len(text) <= MAX_EMAIL_CHARS and EMAIL.fullmatch(text) is not None


MAX_PASSWORD_CHARS = 1024

# Verifying against this keeps the time of a login for an unknown account like that of a known one.
_DUMMY_HASH = _hasher.hash("not a password anyone has")


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("the password is empty")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; always spends the same work, even without a hash."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_password() -> str:
    return secrets.token_urlsafe(12)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def password_stamp(password_hash: str) -> str:
    """A short fingerprint of a password hash: a dashboard session keeps it, so a new password ends the session."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]
