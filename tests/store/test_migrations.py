import asyncio

import asyncpg

from addax.store.database import create_pool
from addax.store.migrations import available, migrate


async def test_applies_every_migration_once(empty_database: str) -> None:
    connection = await asyncpg.connect(empty_database)
    try:
        first = await migrate(connection)
        second = await migrate(connection)
        recorded = await connection.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    finally:
        await connection.close()
    assert first == [path.name for _, path in available()]
    assert second == []
    assert [row["name"] for row in recorded] == first


async def test_two_processes_migrating_at_once_apply_each_migration_once(empty_database: str) -> None:
    pools = [await create_pool(empty_database, size=1) for _ in range(2)]
    try:

        async def run(pool: asyncpg.Pool) -> list[str]:
            async with pool.acquire() as connection:
                return await migrate(connection)

        results = await asyncio.gather(*(run(pool) for pool in pools))
        count = await pools[0].fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        for pool in pools:
            await pool.close()
    applied = sorted(results, key=len)
    assert applied[0] == [] and applied[1] == [path.name for _, path in available()]
    assert count == len(available())


async def test_schema_has_postgis_points(pool: asyncpg.Pool, unique: str) -> None:
    project = await pool.fetchval("INSERT INTO projects (name) VALUES ($1) RETURNING id", f"geo-{unique}")
    await pool.execute(
        "INSERT INTO sites (project_id, name, location) VALUES ($1, 'a', ST_MakePoint(5.1255, 52.0987)::geography),"
        " ($1, 'b', ST_MakePoint(5.1285, 52.0987)::geography)",
        project,
    )
    metres = await pool.fetchval(
        "SELECT ST_Distance(a.location, b.location) FROM sites a, sites b"
        " WHERE a.project_id = $1 AND b.project_id = $1 AND a.name = 'a' AND b.name = 'b'",
        project,
    )
    assert 200 < metres < 210  # 0.003 degrees of longitude at 52°N
