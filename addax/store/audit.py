"""The audit log: who did which admin action to what, and when."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def record(db: Executor, *, actor: str, action: str, target: str | None = None, **details: Any) -> None:
    await db.execute(
        "INSERT INTO audit_log (actor, action, target, details) VALUES ($1, $2, $3, $4)",
        actor,
        action,
        target,
        details,
    )


async def recent(db: Executor, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT id, actor, action, target, details, at FROM audit_log ORDER BY id DESC LIMIT $1", limit
    )
    return [dict(row) for row in rows]
