"""Rule settings and notification payloads are JSON objects in their jsonb columns (SQL can read their keys)."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from addax.domain.alert_rules import parse_rule
from addax.store import alerts


async def test_rule_settings_are_stored_as_an_object(fresh_dsn: str) -> None:
    pool = await asyncpg.create_pool(fresh_dsn)
    try:
        project = await pool.fetchval("INSERT INTO projects (name) VALUES ('json') RETURNING id")
        user = await pool.fetchval("INSERT INTO users (email, password_hash) VALUES ('j@x', 'h') RETURNING id")
        body = parse_rule({"name": "wolves", "labels": ["animal"], "species": ["Canis lupus"], "channels": ["email"]})
        rule_id = await alerts.add_rule(pool, user_id=user, project_id=project, body=body, next_run_at=None)
        row = await pool.fetchrow(
            "SELECT jsonb_typeof(settings) AS kind, settings->'species' AS species FROM alert_rules WHERE id = $1",
            rule_id,
        )
        assert row["kind"] == "object" and row["species"] == '["Canis lupus"]'
        await alerts.update_rule(pool, rule_id, body, next_run_at=datetime.now(UTC))
        assert await pool.fetchval("SELECT jsonb_typeof(settings) FROM alert_rules WHERE id = $1", rule_id) == "object"
    finally:
        await pool.close()
