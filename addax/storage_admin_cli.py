"""``addax storage status`` and ``addax retention run|set|show``: what each tier holds, and what retention deletes.

The handlers take the CLI's ``database`` (a migrated pool for the config) so that this module does not import
``cli``. Status reads the database only (the tiers are not listed: a bucket of millions of objects would take
minutes); the object store is opened only by a retention run that deletes.
"""

from __future__ import annotations

import argparse
import getpass
import shutil
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import asyncpg

from addax.actors.scheduler import BACKUP, HOT_BUDGET, RETENTION
from addax.config import Config
from addax.domain.retention import RetentionError, RetentionRules
from addax.domain.sizes import GB, size_text
from addax.object_storage import objects_dir, open_objects
from addax.store import alerts, retention, tiering

Database = Callable[[Config], AbstractAsyncContextManager[asyncpg.Pool]]
NEVER = "never"


def add_storage_status(storage_actions: Any) -> None:
    """Register ``status`` under ``addax storage`` (``storage_actions``: that parser's ``add_subparsers()``)."""
    storage_actions.add_parser("status", help="what the hot and cold tiers hold, per project, and the hot budget")


def add_retention(commands: Any) -> None:
    """Register ``addax retention`` (``commands``: the top-level ``add_subparsers()``)."""
    actions = commands.add_parser("retention", help="delete old blank, person and vehicle photos per project")
    retention_actions = actions.add_subparsers(dest="action", required=True)
    run = retention_actions.add_parser("run", help="apply every project's rules now (the service does it daily)")
    run.add_argument("--project", help="only this project")
    run.add_argument("--dry-run", action="store_true", help="list what would be deleted and delete nothing")
    rules = retention_actions.add_parser("set", help="days to keep a project's photos of each kind")
    rules.add_argument("--project", required=True)
    for kind in ("blank", "person", "vehicle"):
        rules.add_argument(
            f"--{kind}-days", type=_days, metavar="N|never", help=f"delete {kind} photos received N days ago or more"
        )
    retention_actions.add_parser("show", help="every project's retention rules").add_argument("--project")


async def storage_status(args: argparse.Namespace, settings: Config, *, database: Database) -> int:
    async with database(settings) as pool:
        use = await tiering.storage_use(pool)
        jobs = [job for job in await alerts.schedules(pool) if job["rule_id"] is None and job["job"] in STORAGE_JOBS]
    for line in [*status_lines(settings, use, disk=_disk(settings)), "", *job_lines(jobs)]:
        print(line)
    return 0


STORAGE_JOBS = (HOT_BUDGET, RETENTION, BACKUP)


def job_lines(jobs: list[dict[str, Any]]) -> list[str]:
    """The scheduler's storage jobs: when each last started and runs next, and its last failure if it has one."""
    if not jobs:
        return ["storage jobs: none yet (the service's scheduler makes them when it starts)"]
    lines = [f"{'job':<20} {'last started':<22} {'next run':<22} last error"]
    for job in sorted(jobs, key=lambda job: STORAGE_JOBS.index(job["job"])):
        error = (job["last_error"] or "-").splitlines()[0]
        lines.append(f"{job['job']:<20} {_when(job['last_run_at']):<22} {_when(job['next_run_at']):<22} {error}")
    return lines


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M %Z") if moment else "-"


def status_lines(settings: Config, use: list[tiering.TierUse], *, disk: tuple[int, int] | None) -> list[str]:
    """The report: each tier's total and place, the budget, the disk, then each project's share."""
    storage = settings.storage
    places = {
        "hot": _place(settings, storage.backend),
        "cold": _place(settings, storage.cold) if storage.cold else None,
    }
    lines = []
    for tier in ("hot", "cold"):
        images = sum(item.images for item in use if item.tier == tier)
        size = sum(item.bytes for item in use if item.tier == tier)
        where = places[tier] or "not set (storage.cold)"
        lines.append(f"{tier:<5} {images:>10,} images {size_text(size):>10}  {where}")
    if storage.hot_budget_gb > 0:
        budget = int(storage.hot_budget_gb * GB)
        hot = sum(item.bytes for item in use if item.tier == "hot")
        note = "" if storage.cold else " (no cold tier: nothing moves)"
        lines.append(f"hot budget {size_text(budget)}, {100 * hot / budget:.0f} % used{note}")
    else:
        lines.append("hot budget: none (storage.hot_budget_gb = 0)")
    if disk is not None:
        lines.append(f"disk of the data directory: {size_text(disk[0])} free of {size_text(disk[1])}")
    lines.append("")
    lines.append(f"{'project':<24} {'tier':<5} {'images':>10} {'bytes':>10}")
    for item in use:
        lines.append(f"{item.project:<24} {item.tier:<5} {item.images:>10,} {size_text(item.bytes):>10}")
    return lines


async def retention_command(args: argparse.Namespace, settings: Config, *, database: Database) -> int:
    try:
        if args.action == "set":
            return await _set(args, settings, database)
        if args.action == "show":
            return await _show(args, settings, database)
        return await _run(args, settings, database)
    except RetentionError as error:
        print(f"addax: {error}", file=sys.stderr)
        return 1


async def _set(args: argparse.Namespace, settings: Config, database: Database) -> int:
    changes = {
        f"{kind}_days": None if value == NEVER else value
        for kind in ("blank", "person", "vehicle")
        if (value := getattr(args, f"{kind}_days")) is not None
    }
    if not changes:
        raise RetentionError("nothing to change: give --blank-days, --person-days or --vehicle-days (N or never)")
    async with database(settings) as pool:
        rules = await retention.set_rules(pool, args.project, by=_operator(), **changes)
    print(f"project {args.project!r}: {_rules_text(rules)}")
    return 0


async def _show(args: argparse.Namespace, settings: Config, database: Database) -> int:
    async with database(settings) as pool:
        names = [args.project] if args.project else [str(row["name"]) for row in await pool.fetch(
            "SELECT name FROM projects ORDER BY name")]  # fmt: skip
        for name in names:
            _, rules = await retention.rules_of(pool, name)
            print(f"{name}: {_rules_text(rules)}")
    return 0


async def _run(args: argparse.Namespace, settings: Config, database: Database) -> int:
    now = datetime.now(UTC)
    async with database(settings) as pool:
        project_id = (await retention.rules_of(pool, args.project))[0] if args.project else None
        if args.dry_run:
            count = size = 0
            async for candidate in retention.retention_candidates(pool, project_id, now):
                taken = candidate.taken_at.isoformat() if candidate.taken_at else "-"
                print(f"{candidate.project}\t{candidate.image_id}\t{candidate.original_key}\t{taken}\t{candidate.why}")
                count, size = count + 1, size + candidate.size_bytes
            print(f"dry run: {count} photos ({size_text(size)}) would be deleted; nothing was")
            return 0
        async with open_objects(settings) as objects:
            report = await retention.apply_retention(
                pool, objects, now, dry_run=False, project_id=project_id, by=_operator()
            )
    print(f"{report.images} photos ({size_text(report.bytes)}) deleted, each recorded in the audit log")
    if report.objects_left:
        print(f"{len(report.objects_left)} of their objects could not be deleted (left behind, no row points at them):")
        for key in report.objects_left:
            print(f"  {key}")
    return 0


def _days(text: str) -> int | str:
    if text == NEVER:
        return NEVER
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of days or 'never', not {text!r}") from None
    if days < 1:
        raise argparse.ArgumentTypeError("at least 1 day ('never' keeps them forever)")
    return days


def _rules_text(rules: RetentionRules) -> str:
    parts = [
        f"{kind} photos {'kept forever' if days is None else f'deleted after {days} days'}"
        for kind, days in (("blank", rules.blank_days), ("person", rules.person_days), ("vehicle", rules.vehicle_days))
    ]
    return ", ".join(parts) + "; animals kept forever"


def _place(settings: Config, where: str) -> str:
    if where == "fs":
        return str(objects_dir(settings))
    if where == "s3":
        return f"s3://{settings.storage.s3.bucket}"
    return where


def _disk(settings: Config) -> tuple[int, int] | None:
    try:
        usage = shutil.disk_usage(settings.data_path)
    except OSError:
        return None
    return usage.free, usage.total


def _operator() -> str:
    return f"cli:{getpass.getuser()}"
