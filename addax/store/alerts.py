"""Alert rules and the scheduler's jobs in PostgreSQL.

A rule is a row with the fields every kind shares (owner, project, name, channels) and the kind's own
settings in jsonb, parsed by :mod:`addax.domain.alerts`. A rule that runs on a timetable (a daily health
check, a reminder, a report) has a row in ``schedules`` with its next run, written with the rule.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from addax.domain.alerts import RuleBody, RuleError, settings_from_json, settings_json

log = logging.getLogger("addax.alerts")

#: Kinds matched against each finished photo (the rest run on the scheduler's timetable).
MATCHED_PER_PHOTO = ("detection", "theft_watch")


@dataclass(frozen=True, slots=True)
class StoredRule:
    id: int
    user_id: int
    owner: str  # the owner's e-mail
    project_id: int
    project: str
    body: RuleBody
    owner_active: bool = True  # the owner is enabled and still sees the project: else the rule sleeps

    @property
    def kind(self) -> str:
        return self.body.kind


_SELECT = """SELECT r.id, r.user_id, u.email, r.project_id, p.name AS project, r.name, r.kind, r.settings,
                    r.channels, r.enabled,
                    NOT u.disabled AND (u.is_server_admin OR EXISTS (
                        SELECT 1 FROM memberships m WHERE m.user_id = r.user_id AND m.project_id = r.project_id
                    )) AS owner_active
             FROM alert_rules r JOIN users u ON u.id = r.user_id JOIN projects p ON p.id = r.project_id"""


def _rules(rows: list[asyncpg.Record]) -> list[StoredRule]:
    """The rules of the rows that still parse; one edited into nonsense behind the API's back is logged and
    skipped, so it cannot stop the others (or every photo's matching)."""
    rules = []
    for row in rows:
        try:
            rules.append(_rule(row))
        except RuleError as error:
            log.warning(
                "an alert rule's stored settings are invalid; it is skipped",
                extra={"rule": row["id"], "error": str(error)},
            )
    return rules


def _rule(row: asyncpg.Record) -> StoredRule:
    settings = row["settings"]
    body = RuleBody(
        name=row["name"],
        kind=row["kind"],
        channels=tuple(row["channels"]),
        enabled=row["enabled"],
        settings=settings_from_json(row["kind"], settings),
    )
    return StoredRule(
        id=row["id"],
        user_id=row["user_id"],
        owner=row["email"],
        project_id=row["project_id"],
        project=row["project"],
        body=body,
        owner_active=row["owner_active"],
    )


async def add_rule(
    pool: asyncpg.Pool, *, user_id: int, project_id: int, body: RuleBody, next_run_at: datetime | None
) -> int:
    async with pool.acquire() as connection, connection.transaction():
        rule_id = int(
            await connection.fetchval(
                """INSERT INTO alert_rules (user_id, project_id, name, kind, settings, channels, enabled)
                   VALUES ($1, $2, $3, $4, $5::text::jsonb, $6, $7) RETURNING id""",
                user_id,
                project_id,
                body.name,
                body.kind,
                json.dumps(settings_json(body.settings)),
                list(body.channels),
                body.enabled,
            )
        )
        await _schedule(connection, rule_id, next_run_at)
    return rule_id


async def update_rule(pool: asyncpg.Pool, rule_id: int, body: RuleBody, *, next_run_at: datetime | None) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            """UPDATE alert_rules SET name = $2, settings = $3::text::jsonb, channels = $4, enabled = $5,
                   updated_at = now()
               WHERE id = $1""",
            rule_id,
            body.name,
            json.dumps(settings_json(body.settings)),
            list(body.channels),
            body.enabled,
        )
        # A changed condition starts afresh: what fired under the old settings may fire again.
        await connection.execute("DELETE FROM alert_states WHERE key LIKE $1", f"rule:{rule_id}:%")
        await _schedule(connection, rule_id, next_run_at)


async def _schedule(connection: asyncpg.Connection, rule_id: int, next_run_at: datetime | None) -> None:
    if next_run_at is None:
        await connection.execute("DELETE FROM schedules WHERE job = 'rule' AND rule_id = $1", rule_id)
        return
    await connection.execute(
        """INSERT INTO schedules (job, rule_id, next_run_at) VALUES ('rule', $1, $2)
           ON CONFLICT (job, rule_id) DO UPDATE SET next_run_at = EXCLUDED.next_run_at, last_error = NULL""",
        rule_id,
        next_run_at,
    )


async def delete_rule(pool: asyncpg.Pool, rule_id: int) -> bool:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute("DELETE FROM alert_states WHERE key LIKE $1", f"rule:{rule_id}:%")
        return await connection.fetchval("DELETE FROM alert_rules WHERE id = $1 RETURNING id", rule_id) is not None


async def rule(db: asyncpg.Pool | asyncpg.Connection, rule_id: int) -> StoredRule | None:
    row = await db.fetchrow(f"{_SELECT} WHERE r.id = $1", rule_id)
    found = _rules([row]) if row else []
    return found[0] if found else None


async def rules_for(pool: asyncpg.Pool, *, user_id: int, administered: list[int]) -> list[StoredRule]:
    """A user's own rules, and those of the projects they administer (except others' private theft watches)."""
    rows = await pool.fetch(
        f"""{_SELECT}
            WHERE r.user_id = $1 OR (r.project_id = ANY($2::bigint[]) AND r.kind <> 'theft_watch')
            ORDER BY r.project_id, r.id""",
        user_id,
        administered,
    )
    return _rules(rows)


async def matched_per_photo(db: asyncpg.Connection, project_id: int) -> list[StoredRule]:
    """The project's enabled rules that look at each photo, of owners who may still see the project."""
    rows = await db.fetch(
        f"{_SELECT} WHERE r.project_id = $1 AND r.enabled AND r.kind = ANY($2::text[]) ORDER BY r.id",
        project_id,
        list(MATCHED_PER_PHOTO),
    )
    return [rule for rule in _rules(rows) if rule.owner_active]


_IDS_IN_PROJECT = {
    "sites": "SELECT id FROM sites WHERE project_id = $1 AND id = ANY($2::bigint[])",
    "cameras": "SELECT id FROM cameras WHERE project_id = $1 AND id = ANY($2::bigint[])",
}


async def ids_in_project(db: asyncpg.Pool, table: str, project_id: int, ids: list[int]) -> list[int]:
    """Which of ``ids`` (of sites or cameras) belong to the project."""
    if not ids:
        return []
    rows = await db.fetch(_IDS_IN_PROJECT[table], project_id, ids)
    return [int(row["id"]) for row in rows]


async def enabled_rules(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM alert_rules WHERE enabled"))


# The scheduler's side.


@dataclass(frozen=True, slots=True)
class DueJob:
    id: int
    job: str
    rule_id: int | None
    next_run_at: datetime


async def ensure_system_job(pool: asyncpg.Pool, job: str, first_run_at: datetime) -> None:
    await pool.execute(
        """INSERT INTO schedules (job, next_run_at) VALUES ($1, $2)
           ON CONFLICT (job, rule_id) DO NOTHING""",
        job,
        first_run_at,
    )


async def take_due(connection: asyncpg.Connection, now: datetime) -> DueJob | None:
    """The most overdue job, locked for the caller's transaction (other processes skip it)."""
    row = await connection.fetchrow(
        """SELECT id, job, rule_id, next_run_at FROM schedules
           WHERE next_run_at <= $1 ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED""",
        now,
    )
    return DueJob(row["id"], row["job"], row["rule_id"], row["next_run_at"]) if row else None


async def finish_run(
    connection: asyncpg.Connection,
    job_id: int,
    *,
    ran_at: datetime | None,
    next_run_at: datetime | None,
    clear_error: bool = True,
) -> None:
    """The job ran (or, with ``clear_error`` False, started: its last error stands until it succeeds); with
    ``ran_at`` None nothing started (the last run still goes on): only the next run is written."""
    await connection.execute(
        """UPDATE schedules SET last_run_at = coalesce($2, last_run_at), next_run_at = $3,
                  last_error = CASE WHEN $4 THEN NULL ELSE last_error END
           WHERE id = $1""",
        job_id,
        ran_at,
        next_run_at,
        clear_error,
    )


async def clear_error(pool: asyncpg.Pool, job_id: int) -> None:
    await pool.execute("UPDATE schedules SET last_error = NULL WHERE id = $1", job_id)


async def system_job_error(connection: asyncpg.Connection, job: str) -> str | None:
    """The last error of a system job (the nightly backup), None when its last run succeeded."""
    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT last_error FROM schedules WHERE job = $1 AND rule_id IS NULL", job
    )


async def record_failed_run(pool: asyncpg.Pool, job_id: int, error: str, *, retry_at: datetime) -> None:
    await pool.execute(
        "UPDATE schedules SET last_error = $2, next_run_at = $3 WHERE id = $1", job_id, error[:1000], retry_at
    )


async def next_due(pool: asyncpg.Pool) -> datetime | None:
    return await pool.fetchval("SELECT min(next_run_at) FROM schedules WHERE next_run_at IS NOT NULL")  # type: ignore[no-any-return]


async def schedules(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT job, rule_id, next_run_at, last_run_at, last_error FROM schedules ORDER BY id")
    return [dict(row) for row in rows]


# Conditions that fire once and re-arm.


async def firing(connection: asyncpg.Connection, prefix: str) -> dict[str, str]:
    """The conditions firing under ``prefix`` (e.g. 'rule:7:cam-3:'), by the rest of their key."""
    rows = await connection.fetch("SELECT key, detail FROM alert_states WHERE key LIKE $1", prefix + "%")
    return {row["key"][len(prefix) :]: row["detail"] for row in rows}


async def set_firing(connection: asyncpg.Connection, key: str, detail: str) -> None:
    await connection.execute(
        "INSERT INTO alert_states (key, detail) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", key, detail
    )


async def clear_firing(connection: asyncpg.Connection, key: str) -> None:
    await connection.execute("DELETE FROM alert_states WHERE key = $1", key)


async def firing_since(connection: asyncpg.Connection, key: str) -> datetime | None:
    return await connection.fetchval("SELECT since FROM alert_states WHERE key = $1", key)  # type: ignore[no-any-return]
