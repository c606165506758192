"""The overview's "today" on the real database: each project counts from its own midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from addax.domain.days import local_midnight
from addax.store import accounts, overview


async def photo(pool: asyncpg.Pool, project_id: int, name: str, taken_at: datetime, taxon: str) -> None:
    await pool.execute(
        """INSERT INTO images (project_id, sha256, original_name, source, size_bytes, original_key, stage,
                               taken_at, labels, taxa)
           VALUES ($1, sha256(convert_to($2, 'UTF8')), $2, 'http', 1, $2, 'done', $3, '{animal}', ARRAY[$4])""",
        project_id,
        name,
        taken_at,
        taxon,
    )


async def test_today_starts_at_each_projects_own_midnight(pool: asyncpg.Pool, unique: str) -> None:
    berlin = await accounts.add_project(pool, f"berlin-{unique}", by="t")
    london = await accounts.add_project(pool, f"london-{unique}", by="t")
    await pool.execute("UPDATE projects SET timezone = 'Europe/Berlin' WHERE id = $1", berlin)
    await pool.execute("UPDATE projects SET timezone = 'UTC' WHERE id = $1", london)
    now = datetime(2026, 11, 29, 23, 45, tzinfo=UTC)  # 00:45 on the 30th in Berlin
    at_half_past = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    await photo(pool, berlin, f"{unique}-b.jpg", at_half_past, "Lutra lutra")  # Berlin's today
    await photo(pool, london, f"{unique}-l.jpg", at_half_past, "Vulpes vulpes")  # London's today too
    await photo(pool, berlin, f"{unique}-old.jpg", datetime(2026, 11, 29, 22, 30, tzinfo=UTC), "Sus scrofa")

    figures = await overview.day(
        pool, [(berlin, local_midnight("Europe/Berlin", now)), (london, local_midnight("UTC", now))]
    )
    assert figures["photos"] == 2
    assert figures["species"] == [("Lutra lutra", 1), ("Vulpes vulpes", 1)]
    assert figures["labels"] == {"animal": 2}
