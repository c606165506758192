"""`addax backup now | list` and `addax restore` as real subprocesses on an embedded data dir: make data, back up,
wipe, restore, and compare every row of every table and every object."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from addax.domain.secrets import hash_password
from addax.embedded.postgres import EmbeddedPostgres
from addax.runtime import Supervisor
from addax.store import accounts
from addax.store.database import create_pool
from addax.store.migrations import migrate
from addax.store.object_fs import FilesystemObjectStore
from addax.store.objects import original_key
from tests.conftest import world_readable_tempdir
from tests.service import environment


@pytest.fixture
def home() -> AsyncIterator[Path]:
    path = world_readable_tempdir("addax-backup-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def addax(
    home: Path, *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "addax", *args,
        cwd=home,
        env={**environment(), "ADDAX_GENERAL_DATA_DIR": str(home / "data"),
             "ADDAX_BACKUP_TARGET": str(home / "backups"), **(env or {})},
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=300)
    assert process.returncode is not None
    return subprocess.CompletedProcess(list(args), process.returncode, out.decode(), err.decode())


async def ok(home: Path, *args: str, **kwargs: object) -> str:
    result = await addax(home, *args, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


async def fails(home: Path, *args: str, **kwargs: object) -> str:
    """The one line a failing command says (the embedded server's JSON logs aside)."""
    result = await addax(home, *args, **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 1, result.stdout
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("addax: ")]
    return line


@contextlib.asynccontextmanager
async def cluster(data_dir: Path) -> AsyncIterator[str]:
    """The data dir's embedded PostgreSQL, started by the test (no `addax` runs on it meanwhile)."""
    async with Supervisor() as supervisor:
        postgres = EmbeddedPostgres(data_dir=data_dir)
        await supervisor.start(postgres)
        yield postgres.dsn


async def snapshot(dsn: str) -> dict[str, list[str]]:
    """Every row of every table (as JSON, in primary-key order) and every sequence's position."""
    connection = await asyncpg.connect(dsn)
    try:
        tables = [
            r["tablename"]
            for r in await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        ]
        found = {}
        for table in tables:
            keys = await connection.fetch(
                """SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid
                   AND a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary""",
                table,
            )
            order = ", ".join(f'"{k["attname"]}"' for k in keys) or "1"
            # names from the catalogue, not input
            rows = await connection.fetch(f'SELECT row_to_json(t)::text AS r FROM "{table}" t ORDER BY {order}')
            found[table] = [row["r"] for row in rows]
        sequences = await connection.fetch(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
        )
        found["(sequences)"] = sorted(f"{s['sequencename']}={s['last_value']}" for s in sequences)
        return found
    finally:
        await connection.close()


async def objects_of(root: Path) -> dict[str, str]:
    store = FilesystemObjectStore(root)
    return {item.key: hashlib.sha256(await store.read(item.key)).hexdigest() async for item in store.list()}


async def make_data(home: Path) -> None:
    """A project, users, an upload account, a camera, images with real objects (one over 1 MiB)."""
    store = FilesystemObjectStore(home / "data" / "objects")
    async with cluster(home / "data") as dsn:
        pool = await create_pool(dsn, size=2)
        try:
            async with pool.acquire() as connection:
                await migrate(connection)
            project = await accounts.add_project(pool, "wolves", by="test")
            for email, role in (
                ("eva@example.org", accounts.Role.SERVER_ADMIN),
                ("tom@example.org", accounts.Role.VIEWER),
            ):
                await accounts.add_user(pool, email, hash_password("pw"), role=role, project="wolves", by="test")
            await accounts.add_upload_account(pool, "cam01", hash_password("pw"), project="wolves", by="test")
            camera = await pool.fetchval(
                """INSERT INTO cameras (project_id, identity, identity_kind, name, status)
                   VALUES ($1, 'SN1', 'serial', 'north', 'active') RETURNING id""",
                project,
            )
            for n in range(12):
                data = os.urandom(1_500_000 if n == 0 else 2000 + n)
                sha = hashlib.sha256(data).digest()
                key = original_key(project, sha.hex(), "jpg")
                await store.put_bytes(key, data)
                thumbnail = f"derived/{project}/{n:03d}/{n}/thumbnail.jpg"
                await store.put_bytes(thumbnail, data[:500])
                await pool.execute(
                    """INSERT INTO images (project_id, camera_id, stage, sha256, original_name, source, size_bytes,
                           taken_at, original_key, thumbnail_key, location, exif)
                       VALUES ($1, $2, 'done', $3, $4, 'ftp', $5, now() - $6 * interval '1 hour', $7, $8,
                               ST_GeogFromText('POINT(13.4 52.5)'), '{"Make": "Bushnell"}')""",
                    project, camera, sha, f"IMG_{n:04d}.JPG", len(data), n, key, thumbnail,
                )  # fmt: skip
        finally:
            await pool.close()


async def test_backup_wipe_restore_gives_back_every_row_and_every_object(home: Path) -> None:
    await make_data(home)
    async with cluster(home / "data") as dsn:
        rows_before = await snapshot(dsn)
    objects_before = await objects_of(home / "data" / "objects")
    assert len(objects_before) == 24 and len(rows_before["images"]) == 12 and rows_before["users"]

    said = await ok(home, "backup", "now")
    name = said.split()[1]
    assert said.startswith(f"backup {name} made in ") and "objects: 24 (" in said and "24 new to the backups" in said
    listed = await ok(home, "backup", "list")
    assert listed.splitlines()[0].split() == ["NAME", "CREATED", "DATABASE", "OBJECTS", "BYTES"]
    assert listed.splitlines()[1].startswith(name) and " 24 " in listed.splitlines()[1]

    shutil.rmtree(home / "data")
    restored = await ok(home, "restore", name, "--data-dir", str(home / "new"))
    assert f"restored backup {name} into {home / 'new'}" in restored and "24 objects" in restored
    assert f"ADDAX_GENERAL_DATA_DIR={home / 'new'}" in restored

    assert await objects_of(home / "new" / "objects") == objects_before
    async with cluster(home / "new") as dsn:
        rows_after = await snapshot(dsn)
    assert rows_after.keys() == rows_before.keys()
    for table, rows in rows_before.items():
        assert rows_after[table] == rows, table

    # the restored dir is a data dir `addax` commands use as they find it
    assert "project 'deer' created" in await ok(
        home, "project", "add", "deer", env={"ADDAX_GENERAL_DATA_DIR": str(home / "new")}
    )


async def test_restore_refuses_a_damaged_backup_naming_the_object_and_leaves_nothing(home: Path) -> None:
    await make_data(home)
    name = (await ok(home, "backup", "now")).split()[1]
    said = await ok(home, "backup", "verify", name)
    assert said.startswith(f"backup {name} is whole: the dump and 24 objects (") and "SHA-256 and size" in said
    manifest = (home / "backups" / name / "manifest.jsonl").read_text().splitlines()
    victim = manifest[5].split('"key": "')[1].split('"')[0]
    sha = manifest[5].split('"sha256": "')[1].split('"')[0]
    copy = home / "backups" / "objects" / sha[:2] / sha
    copy.write_bytes(copy.read_bytes()[:-1] + b"X")
    checked = await addax(home, "backup", "verify", name)
    assert checked.returncode == 1, checked.stderr[-3000:]
    assert checked.stdout.startswith(f"backup {name} is damaged: 1 problem (")
    assert f"  {victim}: the backup's copy objects/{sha[:2]}/{sha} has SHA-256" in checked.stdout

    line = await fails(home, "restore", name, "--data-dir", str(home / "new"))
    assert line.startswith(f"addax: {victim}: the backup's copy objects/{sha[:2]}/{sha} has SHA-256")
    assert "the backup is damaged" in line
    assert not (home / "new").exists(), "a restore that failed leaves nothing behind"

    copy.unlink()
    (home / "empty").mkdir()
    line = await fails(home, "restore", name, "--data-dir", str(home / "empty"))
    assert line == f"addax: {victim}: its copy objects/{sha[:2]}/{sha} is missing from the backup in {home / 'backups'}"
    assert (home / "empty").is_dir() and not any((home / "empty").iterdir())


async def test_restore_refuses_a_data_dir_in_use_and_unknown_backups(home: Path) -> None:
    name = (await ok(home, "backup", "now")).split()[1]  # of a brand-new data dir: migrated, no rows
    line = await fails(home, "restore", name, "--data-dir", str(home / "data"))
    assert (
        line == f"addax: {home / 'data'} is not an empty directory: restore into a new or empty one (nothing changed)"
    )
    assert (home / "data" / "pg").is_dir()
    line = await fails(home, "restore", "2020-01-01T00-00-00Z", "--data-dir", str(home / "new"))
    assert line == f"addax: no backup 2020-01-01T00-00-00Z in {home / 'backups'} (see `addax backup list`)"
    assert "is not a backup name" in await fails(home, "restore", "latest", "--data-dir", str(home / "new"))


async def test_a_half_made_backup_is_not_listed(home: Path) -> None:
    assert (await ok(home, "backup", "list")).startswith("no backups in ")
    half = home / "backups" / "2026-01-01T00-00-00Z"
    half.mkdir(parents=True)
    (half / "database.dump").write_bytes(b"PGDMP")
    (half / "manifest.jsonl").write_text("")
    assert (await ok(home, "backup", "list")).startswith("no backups in ")
    assert "no backup 2026-01-01T00-00-00Z" in await fails(home, "restore", half.name, "--data-dir", str(home / "new"))


async def test_a_backup_in_a_bucket_lists_and_restores(home: Path, s3_server) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("addax.store.object_s3")
    bucket = s3_server.new_bucket()
    env = {
        **s3_server.environment(bucket),
        "ADDAX_STORAGE_BACKEND": "fs",
        "ADDAX_BACKUP_TARGET": f"s3://{bucket}/nightly",
    }
    await make_data(home)
    objects_before = await objects_of(home / "data" / "objects")
    name = (await ok(home, "backup", "now", env=env)).split()[1]
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket, Prefix="nightly/")["Contents"]]
    assert f"nightly/{name}/backup.json" in keys and sum(k.startswith("nightly/objects/") for k in keys) == 24
    assert (await ok(home, "backup", "list", env=env)).splitlines()[1].startswith(name)
    assert (await ok(home, "backup", "verify", name, env=env)).startswith(f"backup {name} is whole")
    await ok(home, "restore", name, "--data-dir", str(home / "new"), env=env)
    assert await objects_of(home / "new" / "objects") == objects_before

    victim = next(key for key in keys if key.startswith("nightly/objects/"))
    s3_server.client().delete_object(Bucket=bucket, Key=victim)
    checked = await addax(home, "backup", "verify", name, env=env)
    assert checked.returncode == 1 and f"its copy {victim.removeprefix('nightly/')} is missing" in checked.stdout


def test_the_nightly_time_is_in_the_servers_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    from addax.backup_service import server_zone

    monkeypatch.setenv("TZ", "Europe/Berlin")
    assert server_zone().key == "Europe/Berlin"
    monkeypatch.setenv("TZ", "Nowhere/Atlantis")
    assert server_zone().key  # falls back to /etc/localtime's zone, or UTC
