"""Projects, users and roles, upload accounts, device and API tokens, failed-login records.

Every admin action here writes the audit log in the same transaction as the change itself. Actions on an
existing account take its id; ``user_id``, ``upload_account_id`` and ``device_token_id`` find it by name
(an unknown name is an AccountError that says how to create one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from addax.domain.secrets import plausible_email
from addax.store import audit


class Role(StrEnum):
    SERVER_ADMIN = "server-admin"
    PROJECT_ADMIN = "project-admin"
    ANNOTATOR = "annotator"  # sees the project and verifies its photos; administers nothing
    VIEWER = "viewer"


ADMIN_ROLES = frozenset({Role.SERVER_ADMIN, Role.PROJECT_ADMIN})  # administer a project: members, settings, cameras
VERIFYING_ROLES = ADMIN_ROLES | {Role.ANNOTATOR}  # verify (correct) a project's photos


class AccountError(Exception):
    """An admin action cannot be done as asked (unknown project, duplicate name ...)."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    email: str
    password_hash: str
    is_server_admin: bool
    disabled: bool


@dataclass(frozen=True, slots=True)
class UploadAccount:
    id: int
    name: str
    project_id: int
    password_hash: str


@dataclass(frozen=True, slots=True)
class DeviceToken:
    id: int
    project_id: int
    name: str


async def project_id(db: asyncpg.Connection | asyncpg.Pool, name: str) -> int:
    found = await db.fetchval("SELECT id FROM projects WHERE name = $1", name)
    if found is None:
        raise AccountError(f"no project named {name!r} (create it with `addax project add {name}`)")
    return int(found)


async def add_project(pool: asyncpg.Pool, name: str, *, by: str) -> int:
    async with pool.acquire() as connection, connection.transaction():
        try:
            new_id = await connection.fetchval("INSERT INTO projects (name) VALUES ($1) RETURNING id", name)
        except asyncpg.UniqueViolationError:
            raise AccountError(f"a project named {name!r} already exists") from None
        except asyncpg.CheckViolationError:
            raise AccountError("a project needs a name") from None
        await audit.record(connection, actor=by, action="project.add", target=name)
    return int(new_id)


async def set_project(
    pool: asyncpg.Pool,
    name: str,
    *,
    by: str,
    timezone: str | None = None,
    require_camera_registration: bool | None = None,
    require_timestamp: bool | None = None,
    site_radius_m: float | None = None,
    detection_threshold: float | None = None,
    sequence_gap_s: int | None = None,
    allowed_species: list[str] | None = None,
    species_thresholds: dict[str, float] | None = None,
) -> None:
    """Change the given settings; ``species_thresholds`` are merged into the project's (a score of 0 removes one)."""
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise AccountError(f"unknown time zone {timezone!r} (use an IANA name like Europe/Amsterdam)") from None
    if site_radius_m is not None and site_radius_m <= 0:
        raise AccountError("the site radius must be more than 0 m")
    scores = [detection_threshold, *(species_thresholds or {}).values()]
    if any(score is not None and not 0 <= score <= 1 for score in scores):
        raise AccountError("thresholds are scores from 0 to 1")
    if sequence_gap_s is not None and not 0 <= sequence_gap_s <= 3600:
        raise AccountError("the sequence gap is 0 to 3600 seconds")
    async with pool.acquire() as connection, connection.transaction():
        found = await connection.fetchval(
            """UPDATE projects SET timezone = COALESCE($2, timezone),
                   require_camera_registration = COALESCE($3, require_camera_registration),
                   require_timestamp = COALESCE($4, require_timestamp),
                   site_radius_m = COALESCE($5, site_radius_m),
                   detection_threshold = COALESCE($6, detection_threshold),
                   sequence_gap_s = COALESCE($7, sequence_gap_s),
                   allowed_species = COALESCE($8, allowed_species),
                   species_thresholds = jsonb_strip_nulls(species_thresholds || COALESCE($9::jsonb, '{}'))
               WHERE name = $1 RETURNING id""",
            name,
            timezone,
            require_camera_registration,
            require_timestamp,
            site_radius_m,
            detection_threshold,
            sequence_gap_s,
            allowed_species,
            {k: (v or None) for k, v in species_thresholds.items()} if species_thresholds else None,
        )
        if found is None:
            raise AccountError(f"no project named {name!r}")
        await audit.record(
            connection,
            actor=by,
            action="project.set",
            target=name,
            timezone=timezone,
            require_camera_registration=require_camera_registration,
            require_timestamp=require_timestamp,
            site_radius_m=site_radius_m,
            detection_threshold=detection_threshold,
            sequence_gap_s=sequence_gap_s,
            allowed_species=allowed_species,
            species_thresholds=species_thresholds,
        )
    if detection_threshold is not None:
        await resummarise(pool, found)


async def resummarise(pool: asyncpg.Pool, project_id: int, *, batch: int = 2000) -> int:
    """Recompute the labels, taxa and best score of the project's done photos, which are read at its detection
    threshold (a verified photo keeps the person's). ``stage = stage`` fires summarise_image (migration 008).
    In batches of its own transaction each, after the new threshold is committed: a big project is never
    locked whole, and a photo finished meanwhile is already summarised at the new threshold."""
    last_id, done = 0, 0
    while True:
        changed = await pool.fetch(
            """UPDATE images SET stage = stage WHERE id IN (
                   SELECT id FROM images WHERE project_id = $1 AND stage = 'done' AND id > $2 ORDER BY id LIMIT $3)
               RETURNING id""",
            project_id,
            last_id,
            batch,
        )
        if not changed:
            return done
        last_id, done = max(row["id"] for row in changed), done + len(changed)


async def add_user(
    pool: asyncpg.Pool, email: str, password_hash: str, *, role: Role, project: str | None, by: str
) -> int:
    if role is not Role.SERVER_ADMIN and not project:
        raise AccountError(f"a {role} belongs to a project: add --project")
    if not plausible_email(email):
        raise AccountError(f"{email!r} is not an e-mail address (name@domain, without spaces, quotes or brackets)")
    async with pool.acquire() as connection, connection.transaction():
        try:
            user_id = await connection.fetchval(
                "INSERT INTO users (email, password_hash, is_server_admin) VALUES ($1, $2, $3) RETURNING id",
                email,
                password_hash,
                role is Role.SERVER_ADMIN,
            )
        except asyncpg.UniqueViolationError:
            raise AccountError(f"a user {email!r} already exists") from None
        if project:
            await connection.execute(
                "INSERT INTO memberships (user_id, project_id, role) VALUES ($1, $2, $3)",
                user_id,
                await project_id(connection, project),
                (Role.PROJECT_ADMIN if role is Role.SERVER_ADMIN else role).value,
            )
        await audit.record(connection, actor=by, action="user.add", target=email, role=role.value, project=project)
    return int(user_id)


async def count_users(db: asyncpg.Pool) -> int:
    return int(await db.fetchval("SELECT count(*) FROM users"))


async def find_user(db: asyncpg.Pool, email: str) -> User | None:
    row = await db.fetchrow(
        "SELECT id, email, password_hash, is_server_admin, disabled FROM users WHERE lower(email) = lower($1)",
        email,
    )
    return User(**dict(row)) if row else None


async def user_by_id(db: asyncpg.Pool, user_id: int) -> User | None:
    row = await db.fetchrow(
        "SELECT id, email, password_hash, is_server_admin, disabled FROM users WHERE id = $1", user_id
    )
    return User(**dict(row)) if row else None


async def user_id(db: asyncpg.Connection | asyncpg.Pool, email: str) -> int:
    found = await db.fetchval("SELECT id FROM users WHERE lower(email) = lower($1)", email)
    if found is None:
        raise AccountError(f"no user {email!r} (see `addax user add`)")
    return int(found)


async def users(db: asyncpg.Pool, *, only: int | None = None) -> list[dict[str, Any]]:
    """Every user (or the one with id ``only``) with their projects and roles; never the password hash."""
    rows = await db.fetch(
        """SELECT u.id, u.email, u.is_server_admin AS server_admin, u.disabled, u.created_at,
                  COALESCE(json_agg(json_build_object('project_id', m.project_id, 'role', m.role))
                           FILTER (WHERE m.user_id IS NOT NULL), '[]') AS projects
           FROM users u LEFT JOIN memberships m ON m.user_id = u.id
           WHERE $1::bigint IS NULL OR u.id = $1 GROUP BY u.id ORDER BY u.id""",
        only,
    )
    return [dict(row) for row in rows]


async def disable_user(pool: asyncpg.Pool, user_id: int, *, by: str) -> int:
    """Stop a login at once: every API token of the user is deleted with it. Returns the sessions ended."""
    async with pool.acquire() as connection, connection.transaction():
        email = await _set_user_disabled(connection, user_id, True)
        ended = await _end_sessions(connection, user_id)
        await audit.record(connection, actor=by, action="user.disable", target=email, sessions_ended=ended)
    return ended


async def enable_user(pool: asyncpg.Pool, user_id: int, *, by: str) -> None:
    async with pool.acquire() as connection, connection.transaction():
        email = await _set_user_disabled(connection, user_id, False)
        await audit.record(connection, actor=by, action="user.enable", target=email)


async def set_user_password(
    pool: asyncpg.Pool,
    user_id: int,
    password_hash: str,
    *,
    by: str,
    new_session: tuple[bytes, timedelta] | None = None,
) -> int:
    """Set a new password and end every session of the user; ``new_session`` (token digest, lifetime) opens
    the caller's next one in the same transaction. Returns the sessions ended."""
    async with pool.acquire() as connection, connection.transaction():
        email = await connection.fetchval(
            "UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING email", user_id, password_hash
        )
        if email is None:
            raise AccountError(f"no user with id {user_id}")
        ended = await _end_sessions(connection, user_id)
        if new_session is not None:
            await issue_api_token(connection, user_id, new_session[0], ttl=new_session[1])
        await audit.record(connection, actor=by, action="user.password", target=email, sessions_ended=ended)
    return ended


async def _set_user_disabled(connection: asyncpg.Connection, user_id: int, disabled: bool) -> str:
    email = await connection.fetchval("UPDATE users SET disabled = $2 WHERE id = $1 RETURNING email", user_id, disabled)
    if email is None:
        raise AccountError(f"no user with id {user_id}")
    return str(email)


async def _end_sessions(connection: asyncpg.Connection, user_id: int) -> int:
    ended = await connection.fetch("DELETE FROM api_tokens WHERE user_id = $1 RETURNING id", user_id)
    return len(ended)


async def add_upload_account(pool: asyncpg.Pool, name: str, password_hash: str, *, project: str, by: str) -> int:
    async with pool.acquire() as connection, connection.transaction():
        try:
            account_id = await connection.fetchval(
                "INSERT INTO upload_accounts (project_id, name, password_hash) VALUES ($1, $2, $3) RETURNING id",
                await project_id(connection, project),
                name,
                password_hash,
            )
        except asyncpg.UniqueViolationError:
            raise AccountError(f"an upload account {name!r} already exists") from None
        except asyncpg.CheckViolationError:
            raise AccountError("upload account names are 1-64 letters, digits, '_', '.' or '-'") from None
        await audit.record(connection, actor=by, action="ftp-user.add", target=name, project=project)
    return int(account_id)


async def upload_account(db: asyncpg.Pool, name: str) -> UploadAccount | None:
    """The enabled upload account of this name."""
    row = await db.fetchrow(
        "SELECT id, name, project_id, password_hash FROM upload_accounts WHERE name = $1 AND NOT disabled", name
    )
    return UploadAccount(**dict(row)) if row else None


async def upload_account_id(db: asyncpg.Pool, name: str) -> int:
    found = await db.fetchval("SELECT id FROM upload_accounts WHERE name = $1", name)
    if found is None:
        raise AccountError(f"no upload account {name!r} (see `addax ftp-user add`)")
    return int(found)


async def upload_accounts(
    db: asyncpg.Pool, *, projects: list[int] | None = None, only: int | None = None
) -> list[dict[str, Any]]:
    """The upload accounts of these projects (default: all), or the one with id ``only``; never a hash."""
    rows = await db.fetch(
        """SELECT id, project_id, name, disabled, created_at FROM upload_accounts
           WHERE ($1::bigint[] IS NULL OR project_id = ANY($1)) AND ($2::bigint IS NULL OR id = $2)
           ORDER BY id""",
        projects,
        only,
    )
    return [dict(row) for row in rows]


async def disable_upload_account(pool: asyncpg.Pool, account_id: int, *, by: str) -> None:
    """Cameras with this account can no longer log in (``upload_account`` skips it)."""
    await _change_upload_account(pool, account_id, action="ftp-user.disable", by=by, disabled=True)


async def enable_upload_account(pool: asyncpg.Pool, account_id: int, *, by: str) -> None:
    await _change_upload_account(pool, account_id, action="ftp-user.enable", by=by, disabled=False)


async def set_upload_account_password(pool: asyncpg.Pool, account_id: int, password_hash: str, *, by: str) -> None:
    await _change_upload_account(pool, account_id, action="ftp-user.password", by=by, password_hash=password_hash)


async def _change_upload_account(
    pool: asyncpg.Pool,
    account_id: int,
    *,
    action: str,
    by: str,
    disabled: bool | None = None,
    password_hash: str | None = None,
) -> None:
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            """UPDATE upload_accounts a
               SET disabled = COALESCE($2, a.disabled), password_hash = COALESCE($3, a.password_hash)
               FROM projects p WHERE a.id = $1 AND p.id = a.project_id RETURNING a.name, p.name AS project""",
            account_id,
            disabled,
            password_hash,
        )
        if row is None:
            raise AccountError(f"no upload account with id {account_id}")
        await audit.record(connection, actor=by, action=action, target=row["name"], project=row["project"])


async def add_device_token(pool: asyncpg.Pool, name: str, digest: bytes, *, project: str, by: str) -> int:
    async with pool.acquire() as connection, connection.transaction():
        try:
            token_id = await connection.fetchval(
                "INSERT INTO device_tokens (project_id, name, token_sha256) VALUES ($1, $2, $3) RETURNING id",
                await project_id(connection, project),
                name,
                digest,
            )
        except asyncpg.UniqueViolationError:
            raise AccountError(f"project {project!r} already has a token named {name!r}") from None
        await audit.record(connection, actor=by, action="token.add", target=name, project=project)
    return int(token_id)


async def find_device_token(db: asyncpg.Pool, digest: bytes) -> DeviceToken | None:
    row = await db.fetchrow(
        """UPDATE device_tokens SET last_used_at = now()
           WHERE token_sha256 = $1 AND NOT revoked RETURNING id, project_id, name""",
        digest,
    )
    return DeviceToken(**dict(row)) if row else None


async def device_token_id(db: asyncpg.Pool, name: str, *, project: str) -> int:
    found = await db.fetchval(
        "SELECT id FROM device_tokens WHERE project_id = $1 AND name = $2", await project_id(db, project), name
    )
    if found is None:
        raise AccountError(f"project {project!r} has no device token named {name!r}")
    return int(found)


async def device_tokens(
    db: asyncpg.Pool, *, projects: list[int] | None = None, only: int | None = None
) -> list[dict[str, Any]]:
    """The device tokens of these projects (default: all), or the one with id ``only``; never a hash."""
    rows = await db.fetch(
        """SELECT id, project_id, name, revoked, created_at, last_used_at FROM device_tokens
           WHERE ($1::bigint[] IS NULL OR project_id = ANY($1)) AND ($2::bigint IS NULL OR id = $2)
           ORDER BY id""",
        projects,
        only,
    )
    return [dict(row) for row in rows]


async def revoke_device_token(pool: asyncpg.Pool, token_id: int, *, by: str) -> None:
    """Refuse the token from now on, for good: a device gets a new one with `addax token add`."""
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            """UPDATE device_tokens t SET revoked = true FROM projects p
               WHERE t.id = $1 AND p.id = t.project_id RETURNING t.name, p.name AS project""",
            token_id,
        )
        if row is None:
            raise AccountError(f"no device token with id {token_id}")
        await audit.record(connection, actor=by, action="token.revoke", target=row["name"], project=row["project"])


async def issue_api_token(
    db: asyncpg.Connection | asyncpg.Pool, user_id: int, digest: bytes, *, ttl: timedelta
) -> None:
    await db.execute(
        "INSERT INTO api_tokens (user_id, token_sha256, expires_at) VALUES ($1, $2, now() + $3)",
        user_id,
        digest,
        ttl,
    )


async def user_for_api_token(db: asyncpg.Pool, digest: bytes) -> User | None:
    row = await db.fetchrow(
        """SELECT u.id, u.email, u.password_hash, u.is_server_admin, u.disabled
           FROM api_tokens t JOIN users u ON u.id = t.user_id
           WHERE t.token_sha256 = $1 AND t.expires_at > now() AND NOT u.disabled""",
        digest,
    )
    return User(**dict(row)) if row else None


async def end_api_token(db: asyncpg.Pool, digest: bytes) -> bool:
    """Log out: this one token stops working. False when it was not (or no longer) valid."""
    return await db.fetchval("DELETE FROM api_tokens WHERE token_sha256 = $1 RETURNING id", digest) is not None


async def project_roles(db: asyncpg.Pool, user: User) -> dict[int, Role]:
    """The projects a user may see, with the role there; a server admin administers every project."""
    if user.is_server_admin:
        return {int(row["id"]): Role.SERVER_ADMIN for row in await db.fetch("SELECT id FROM projects")}
    rows = await db.fetch("SELECT project_id, role::text FROM memberships WHERE user_id = $1", user.id)
    return {int(row["project_id"]): Role(row["role"]) for row in rows}


async def project_names(db: asyncpg.Pool, project_ids: list[int]) -> dict[int, str]:
    rows = await db.fetch("SELECT id, name FROM projects WHERE id = ANY($1::bigint[]) ORDER BY name", project_ids)
    return {int(row["id"]): row["name"] for row in rows}


async def members(db: asyncpg.Pool, *, projects: list[int]) -> list[dict[str, Any]]:
    """The users with a role in one of ``projects``, each with their roles in those projects only (a project
    admin must not learn where else someone works); never the password hash."""
    rows = await db.fetch(
        """SELECT u.id, u.email, u.is_server_admin AS server_admin, u.disabled, u.created_at,
                  json_agg(json_build_object('project_id', m.project_id, 'role', m.role) ORDER BY m.project_id)
                      AS projects
           FROM users u JOIN memberships m ON m.user_id = u.id
           WHERE m.project_id = ANY($1::bigint[]) GROUP BY u.id ORDER BY u.email""",
        projects,
    )
    return [dict(row) for row in rows]


async def set_membership(pool: asyncpg.Pool, user_id: int, project_id: int, role: Role, *, by: str) -> None:
    """Give a user this role in a project (added, or their role there changed)."""
    if role is Role.SERVER_ADMIN:
        raise AccountError("server admin is not a role in a project")
    async with pool.acquire() as connection, connection.transaction():
        email = await connection.fetchval("SELECT email FROM users WHERE id = $1", user_id)
        project = await connection.fetchval("SELECT name FROM projects WHERE id = $1", project_id)
        if email is None or project is None:
            raise AccountError("no such user or project")
        await connection.execute(
            """INSERT INTO memberships (user_id, project_id, role) VALUES ($1, $2, $3)
               ON CONFLICT (user_id, project_id) DO UPDATE SET role = EXCLUDED.role""",
            user_id,
            project_id,
            role.value,
        )
        await audit.record(
            connection, actor=by, action="membership.set", target=email, project=project, role=role.value
        )


async def remove_membership(pool: asyncpg.Pool, user_id: int, project_id: int, *, by: str) -> bool:
    """The user no longer sees the project; False when they had no role there."""
    async with pool.acquire() as connection, connection.transaction():
        row = await connection.fetchrow(
            """DELETE FROM memberships m USING users u, projects p
               WHERE m.user_id = $1 AND m.project_id = $2 AND u.id = m.user_id AND p.id = m.project_id
               RETURNING u.email, p.name AS project""",
            user_id,
            project_id,
        )
        if row is None:
            return False
        await audit.record(
            connection, actor=by, action="membership.remove", target=row["email"], project=row["project"]
        )
    return True
