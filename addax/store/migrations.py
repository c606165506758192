"""Numbered SQL migrations, applied once each, in order, under an advisory lock.

Files are ``migrations/NNN_description.sql``; each runs in its own transaction and is recorded
in ``schema_migrations``. Two processes migrating at once serialise on the lock; the second
finds nothing left to do.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import asyncpg

log = logging.getLogger("addax.migrations")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_LOCK_KEY = 0x61646478  # "addx": any constant shared by every Addax process
_NAME = re.compile(r"^(\d+)_[\w-]+\.sql$")


def available(directory: Path = MIGRATIONS_DIR) -> list[tuple[int, Path]]:
    found = []
    for path in directory.glob("*.sql"):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path}: migration files are named NNN_description.sql")
        found.append((int(match.group(1)), path))
    versions = [version for version, _ in found]
    if len(versions) != len(set(versions)):
        raise ValueError(f"{directory}: two migrations share a number")
    return sorted(found)


async def migrate(connection: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    applied_now: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {row["version"] for row in await connection.fetch("SELECT version FROM schema_migrations")}
        for version, path in available(directory):
            if version in done:
                continue
            async with connection.transaction():
                await connection.execute(path.read_text(encoding="utf-8"))
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, path.name
                )
            log.info("applied migration", extra={"migration": path.name})
            applied_now.append(path.name)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
