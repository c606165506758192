"""``addax backup now | list | verify BACKUP`` and ``addax restore BACKUP --data-dir DIR``."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from addax import backup_service
from addax.config import Config
from addax.domain.sizes import size_text
from addax.embedded.common import socket_directory
from addax.embedded.postgres import dsn_for
from addax.store.backups import BackupError
from addax.store.objects import ObjectStoreError

# What these commands fail on with a message of their own (the CLI prints it as one line, exit 1).
ERRORS = (BackupError, ObjectStoreError)

Database = Callable[[Config], contextlib.AbstractAsyncContextManager[Any]]


def add_commands(commands: Any) -> None:  # argparse's subparsers action has no public type
    backup = commands.add_parser("backup", help="database dump + object copies in backup.target")
    actions = backup.add_subparsers(dest="action", required=True)
    actions.add_parser("now", help="make a backup now (then rotate: keep_daily, keep_weekly)")
    actions.add_parser("list", help="the complete backups in backup.target, newest first")
    verify = actions.add_parser("verify", help="read a backup back and check every SHA-256 (writes nothing)")
    verify.add_argument("backup", metavar="BACKUP", help="its name, as `addax backup list` shows it")
    restore = commands.add_parser("restore", help="a backup into a fresh data dir, every object's SHA-256 checked")
    restore.add_argument("backup", metavar="BACKUP", help="its name, as `addax backup list` shows it")
    restore.add_argument("--data-dir", required=True, type=Path, help="a new or empty directory")


async def backup(args: argparse.Namespace, settings: Config, *, database: Database) -> int:
    if args.action == "list":
        return await _list(settings)
    if args.action == "verify":
        checked = await backup_service.verify(settings, args.backup)
        print(checked.summary())
        return 1 if checked.verification.problem_count else 0
    async with database(settings):  # running (the service's, or one started for this command) and migrated
        dsn = settings.database.url or dsn_for(socket_directory(settings.data_path), 5432)
        outcome = await backup_service.back_up(settings, dsn=dsn)
    print(outcome.summary())
    return 0


async def _list(settings: Config) -> int:
    location, infos = await backup_service.list_backups(settings)
    if not infos:
        print(f"no backups in {location}")
        return 0
    rows = [("NAME", "CREATED", "DATABASE", "OBJECTS", "BYTES")]
    for info in infos:
        created = datetime.fromisoformat(info.created_at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
        database, objects = size_text(info.database_bytes), size_text(info.object_bytes)
        rows.append((info.name, created, database, str(info.object_count), objects))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return 0


async def restore(args: argparse.Namespace, settings: Config) -> int:
    outcome = await backup_service.restore(settings, args.backup, args.data_dir)
    print(outcome.summary())
    return 0
