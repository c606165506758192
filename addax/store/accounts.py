"""Projects, users and roles, upload accounts, device and API tokens, failed-login records.

Every admin action here writes the audit log in the same transaction as the change itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from addax.store import audit


class Role(StrEnum):
    SERVER_ADMIN = "server-admin"
    PROJECT_ADMIN = "project-admin"
    VIEWER = "viewer"


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
) -> None:
    if timezone is not None:
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise AccountError(f"unknown time zone {timezone!r} (use an IANA name like Europe/Amsterdam)") from None
    if site_radius_m is not None and site_radius_m <= 0:
        raise AccountError("the site radius must be more than 0 m")
    async with pool.acquire() as connection, connection.transaction():
        found = await connection.fetchval(
            """UPDATE projects SET timezone = COALESCE($2, timezone),
                   require_camera_registration = COALESCE($3, require_camera_registration),
                   require_timestamp = COALESCE($4, require_timestamp),
                   site_radius_m = COALESCE($5, site_radius_m)
               WHERE name = $1 RETURNING id""",
            name,
            timezone,
            require_camera_registration,
            require_timestamp,
            site_radius_m,
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
        )


async def add_user(
    pool: asyncpg.Pool, email: str, password_hash: str, *, role: Role, project: str | None, by: str
) -> int:
    if role is not Role.SERVER_ADMIN and not project:
        raise AccountError(f"a {role} belongs to a project: add --project")
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


async def issue_api_token(db: asyncpg.Pool, user_id: int, digest: bytes, *, ttl: timedelta) -> None:
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


async def record_login_failure(db: asyncpg.Pool, *, kind: str, account: str, address: str) -> None:
    await db.execute("INSERT INTO auth_failures (kind, account, address) VALUES ($1, $2, $3)", kind, account, address)


async def recent_login_failures(
    db: asyncpg.Pool, *, kind: str, account: str, address: str, window: timedelta
) -> tuple[int, int]:
    """Failures within ``window``: (for this account, from this address)."""
    row = await db.fetchrow(
        """SELECT count(*) FILTER (WHERE lower(account) = lower($2)) AS by_account,
                  count(*) FILTER (WHERE address = $3) AS by_address
           FROM auth_failures WHERE kind = $1 AND at > now() - $4::interval""",
        kind,
        account,
        address,
        window,
    )
    assert row is not None
    return int(row["by_account"]), int(row["by_address"])


async def forget_login_failures(db: asyncpg.Pool, *, kind: str, account: str, older_than: timedelta) -> None:
    """After a good login, the account's own failures stop counting; old rows of anyone are pruned."""
    await db.execute(
        "DELETE FROM auth_failures WHERE (kind = $1 AND lower(account) = lower($2)) OR at < now() - $3::interval",
        kind,
        account,
        older_than,
    )


async def project_roles(db: asyncpg.Pool, user: User) -> dict[int, Role]:
    """The projects a user may see, with the role there; a server admin administers every project."""
    if user.is_server_admin:
        return {int(row["id"]): Role.SERVER_ADMIN for row in await db.fetch("SELECT id FROM projects")}
    rows = await db.fetch("SELECT project_id, role::text FROM memberships WHERE user_id = $1", user.id)
    return {int(row["project_id"]): Role(row["role"]) for row in rows}
