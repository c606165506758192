"""Events: a burst whose photos finish out of order (parallel stages, retries, two workers) is still one event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from addax.domain.sequences import Evidence
from addax.store import accounts, events


async def test_a_burst_finished_out_of_order_is_one_event(pool: asyncpg.Pool, unique: str) -> None:
    project_id = await accounts.add_project(pool, f"ev-{unique}", by="t")
    camera_id = await pool.fetchval(
        "INSERT INTO cameras (project_id, identity, identity_kind, name) VALUES ($1, $2, 'serial', 'c') RETURNING id",
        project_id,
        f"cam-{unique}",
    )
    start = datetime(2026, 5, 1, 2, 14, tzinfo=UTC)
    ids = []
    for offset in (0, 50, 100):  # one burst: each photo within 60 s of the next
        ids.append(
            await pool.fetchval(
                """INSERT INTO images (project_id, sha256, original_name, source, size_bytes, original_key, stage,
                       camera_id, taken_at)
                   VALUES ($1, $2, $3, 'http', 1, $3, 'classified', $4, $5) RETURNING id""",
                project_id,
                bytes([offset]) * 32,
                f"{unique}-{offset}.jpg",
                camera_id,
                start + timedelta(seconds=offset),
            )
        )
    for index in (0, 2, 1):  # finished in the order 0 s, 100 s, 50 s
        async with pool.acquire() as connection, connection.transaction():
            await events.join_event(
                connection,
                image_id=ids[index],
                project_id=project_id,
                camera_id=camera_id,
                taken_at=start + timedelta(seconds=(0, 50, 100)[index]),
                gap_s=60,
                evidence=Evidence("animal", 0.9),
            )
    found = await pool.fetch("SELECT started_at, ended_at, image_count FROM events WHERE camera_id = $1", camera_id)
    assert len(found) == 1, [dict(row) for row in found]
