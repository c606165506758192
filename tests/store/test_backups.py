"""Backups in a directory target against a real PostgreSQL: what is written, incremental copies, rotation on disk."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from addax.embedded.pg_tools import find_tool
from addax.store import backup_restore, backups
from addax.store.backups import BackupError, make_backup
from addax.store.migrations import available
from addax.store.object_fs import FilesystemObjectStore
from addax.store.objects import ObjectStoreError

NIGHT = datetime(2026, 11, 29, 2, 30, tzinfo=UTC)  # a Sunday


@pytest.fixture
def stores(tmp_path: Path) -> tuple[FilesystemObjectStore, FilesystemObjectStore]:
    return FilesystemObjectStore(tmp_path / "objects"), FilesystemObjectStore(tmp_path / "target")


async def backup_at(
    dsn: str, objects: FilesystemObjectStore, target: FilesystemObjectStore, tmp_path: Path, when: datetime
) -> backups.BackupInfo:
    return await make_backup(
        dsn=dsn,
        objects=objects,
        target=target,
        pg_dump=find_tool("pg_dump"),
        work_dir=tmp_path / "work",
        version="test",
        now=when,
    )


async def test_a_backup_holds_the_dump_a_true_manifest_and_one_copy_per_content(
    fresh_dsn: str, stores: tuple[FilesystemObjectStore, FilesystemObjectStore], tmp_path: Path
) -> None:
    objects, target = stores
    big = bytes(range(256)) * 8192  # 2 MiB: more than one read chunk
    await objects.put_bytes("originals/1/ab/photo.jpg", big)
    await objects.put_bytes("derived/1/001/1/thumbnail.jpg", b"thumb")
    await objects.put_bytes("derived/1/002/2/thumbnail.jpg", b"thumb")  # the same bytes under another key

    info = await backup_at(fresh_dsn, objects, target, tmp_path, NIGHT)

    assert info.name == "2026-11-29T02-30-00Z" and info.created_at.startswith("2026-11-29T02:30:00")
    assert (info.object_count, info.object_bytes) == (3, len(big) + 10)
    assert (info.copied_count, info.copied_bytes) == (2, len(big) + 5), "one copy per distinct content"
    assert info.migration == available()[-1][0]
    assert info.database_bytes > 0 and info.vanished == 0
    root = tmp_path / "target" / info.name
    assert sorted(p.name for p in root.iterdir()) == ["backup.json", "database.dump", "manifest.jsonl"]
    dump = (root / "database.dump").read_bytes()
    assert dump.startswith(b"PGDMP") and hashlib.sha256(dump).hexdigest() == info.dump_sha256
    assert len(dump) == info.dump_bytes
    lines = [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]
    assert lines == [
        {"key": "derived/1/001/1/thumbnail.jpg", "size": 5, "sha256": hashlib.sha256(b"thumb").hexdigest()},
        {"key": "derived/1/002/2/thumbnail.jpg", "size": 5, "sha256": hashlib.sha256(b"thumb").hexdigest()},
        {"key": "originals/1/ab/photo.jpg", "size": len(big), "sha256": hashlib.sha256(big).hexdigest()},
    ]
    for line in lines:
        copy = tmp_path / "target" / "objects" / line["sha256"][:2] / line["sha256"]
        assert hashlib.sha256(copy.read_bytes()).hexdigest() == line["sha256"]
    assert (
        json.loads((root / "backup.json").read_text())["manifest_sha256"]
        == hashlib.sha256((root / "manifest.jsonl").read_bytes()).hexdigest()
    )
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir()), "no work files left"

    await objects.put_bytes("originals/1/cd/new.jpg", b"new photo")
    again = await backup_at(fresh_dsn, objects, target, tmp_path, NIGHT + timedelta(days=1))
    assert (again.object_count, again.copied_count, again.copied_bytes) == (4, 1, 9), "only the new object copied"
    assert [info.name for info in await backups.list_backups(target)] == [again.name, info.name]

    with pytest.raises(BackupError, match="exists already"):
        await backup_at(fresh_dsn, objects, target, tmp_path, NIGHT)


async def test_objects_come_back_checked_and_a_damaged_copy_is_named(
    fresh_dsn: str, stores: tuple[FilesystemObjectStore, FilesystemObjectStore], tmp_path: Path
) -> None:
    objects, target = stores
    await objects.put_bytes("originals/1/ab/a.jpg", b"a" * 100)
    await objects.put_bytes("originals/1/cd/big.mp4", b"v" * (9 << 20))  # over the in-memory limit: spooled
    info = await backup_at(fresh_dsn, objects, target, tmp_path, NIGHT)
    work = tmp_path / "restore-work"
    work.mkdir()

    into = FilesystemObjectStore(tmp_path / "restored")
    restored = await backup_restore.restore_objects(target, info, into, work)
    assert (restored.count, restored.bytes) == (2, 100 + (9 << 20))
    assert [item.key async for item in into.list()] == ["originals/1/ab/a.jpg", "originals/1/cd/big.mp4"]
    assert await into.read("originals/1/ab/a.jpg") == b"a" * 100
    await backup_restore.fetch_dump(target, info, work / "database.dump")

    big_copy = backups.pool_key(hashlib.sha256(b"v" * (9 << 20)).hexdigest())
    await target.put_bytes(big_copy, b"v" * (9 << 20) + b"!")
    with pytest.raises(BackupError, match=r"^originals/1/cd/big\.mp4: the backup's copy .* is damaged"):
        await backup_restore.restore_objects(target, info, FilesystemObjectStore(tmp_path / "again"), work)
    await target.delete(big_copy)
    with pytest.raises(BackupError, match=r"^originals/1/cd/big\.mp4: its copy .* is missing"):
        await backup_restore.restore_objects(target, info, FilesystemObjectStore(tmp_path / "third"), work)

    (tmp_path / "target" / info.name / "database.dump").write_bytes(b"PGDMP damaged")
    with pytest.raises(BackupError, match=r"database\.dump has SHA-256 .* the backup is damaged"):
        await backup_restore.fetch_dump(target, info, work / "database.dump")


async def test_verify_lists_every_damaged_or_missing_piece_and_writes_nothing(
    fresh_dsn: str,
    stores: tuple[FilesystemObjectStore, FilesystemObjectStore],
    tmp_path: Path,
) -> None:
    objects, target = stores
    contents = {f"originals/1/{n:02x}/p{n}.jpg": bytes([n]) * (1000 + n) for n in range(40)}  # more than a BATCH
    for key, data in contents.items():
        await objects.put_bytes(key, data)
    info = await backup_at(fresh_dsn, objects, target, tmp_path, NIGHT)
    work = tmp_path / "verify-work"
    work.mkdir()

    whole = await backup_restore.verify(target, info, work)
    assert (
        whole.problems == []
        and whole.problem_count == 0
        and (whole.objects.count, whole.objects.bytes) == (40, sum(map(len, contents.values())))
    )

    before = sorted([(item.key, item.size) async for item in target.list()])
    damaged, lost = "originals/1/03/p3.jpg", "originals/1/25/p37.jpg"
    await target.put_bytes(backups.pool_key(hashlib.sha256(contents[damaged]).hexdigest()), b"bit rot")
    await target.delete(backups.pool_key(hashlib.sha256(contents[lost]).hexdigest()))
    (tmp_path / "target" / info.name / "database.dump").write_bytes(b"PGDMP damaged")
    changed = sorted([(item.key, item.size) async for item in target.list()])

    checked = await backup_restore.verify(target, info, work)
    assert len(checked.problems) == checked.problem_count == 3 and checked.objects.count == 40
    assert checked.problems[0].startswith("database.dump: SHA-256 ")
    assert checked.problems[1].startswith(f"{damaged}: the backup's copy ") and "(7 bytes)" in checked.problems[1]
    assert checked.problems[2] == (
        f"{lost}: its copy {backups.pool_key(hashlib.sha256(contents[lost]).hexdigest())} is missing from the "
        f"backup in {target.location}"
    )
    assert sorted([(item.key, item.size) async for item in target.list()]) == changed != before  # nothing written
    capped = await backup_restore.verify(target, info, work, keep=2)
    assert capped.problem_count == 3 and capped.problems == checked.problems[:2]

    (tmp_path / "target" / info.name / "manifest.jsonl").write_bytes(b"")
    with pytest.raises(BackupError, match=r"manifest\.jsonl has SHA-256 .* backup\.json says"):
        await backup_restore.verify(target, info, work)


async def test_rotation_deletes_the_right_backups_and_the_copies_only_they_listed(
    fresh_dsn: str, stores: tuple[FilesystemObjectStore, FilesystemObjectStore], tmp_path: Path
) -> None:
    objects, target = stores
    nights = [NIGHT - timedelta(days=n) for n in (14, 9, 8, 2, 1, 0)]  # Sun 15, Fri 20, Sat 21, Fri 27, Sat 28, Sun 29
    for n, night in enumerate(nights):
        await objects.put_bytes(f"originals/1/{n:02d}/only-then.jpg", f"photo {n}".encode())
        await backup_at(fresh_dsn, objects, target, tmp_path, night)
        await objects.delete(f"originals/1/{n:02d}/only-then.jpg")  # each photo is in one backup only
    half_made = tmp_path / "target" / "2026-11-29T01-00-00Z"  # a crash; no backup.json
    half_made.mkdir()
    (half_made / "database.dump").write_bytes(b"PGDMP")
    (tmp_path / "target" / "notes.txt").write_text("the operator's")

    names = [info.name for info in await backups.list_backups(target)]
    assert names == [backups.backup_name(night) for night in reversed(nights)], "the half-made one is not listed"

    # an unfinished backup less than a day old may be in progress: backups go, copies stay
    report = await backups.rotate_backups(target, keep_daily=2, keep_weekly=2, now=NIGHT + timedelta(hours=1))
    kept = [backups.backup_name(NIGHT), backups.backup_name(NIGHT - timedelta(days=1)), backups.backup_name(nights[2])]
    assert [info.name for info in await backups.list_backups(target)] == kept
    assert set(report.deleted) == {backups.backup_name(nights[n]) for n in (0, 1, 3)}
    on_disk = {p.relative_to(tmp_path / "target").parts[0] for p in (tmp_path / "target").rglob("*") if p.is_file()}
    assert on_disk == {*kept, half_made.name, "objects", "notes.txt"}, "no file of a deleted backup is left"
    assert report.pool_deleted == 0 and len(list((tmp_path / "target" / "objects").rglob("*"))) > 6

    report = await backups.rotate_backups(target, keep_daily=2, keep_weekly=2, now=NIGHT + timedelta(days=2))
    assert report.abandoned == (half_made.name,) and not any(p.is_file() for p in half_made.rglob("*"))
    assert report.pool_deleted == 3 and report.pool_kept == 3, "each deleted backup's own photo goes"
    listed = set()
    for name in kept:
        listed |= {entry.sha256 async for entry in backups.manifest_entries(target, name)}
    assert {p.name for p in (tmp_path / "target" / "objects").rglob("*") if p.is_file()} == listed
    for name in kept:
        work = tmp_path / f"check-{name}"
        work.mkdir()
        info = await backups.read_info(target, name)
        await backup_restore.restore_objects(target, info, FilesystemObjectStore(work / "objects"), work)


async def test_a_missing_or_misnamed_backup_is_one_clear_error(stores: tuple[FilesystemObjectStore, ...]) -> None:
    _, target = stores
    with pytest.raises(BackupError, match=r"no backup 2026-11-29T02-30-00Z in .* \(see `addax backup list`\)"):
        await backups.read_info(target, "2026-11-29T02-30-00Z")
    with pytest.raises(BackupError, match="'latest' is not a backup name"):
        await backups.read_info(target, "latest")
    await target.put_bytes("2026-11-29T02-30-00Z/backup.json", b"{not json")
    with pytest.raises(BackupError, match=r"backup\.json is not a backup description"):
        await backups.read_info(target, "2026-11-29T02-30-00Z")
    assert await backups.list_backups(target) == [], "an unreadable one is left out of the list"


async def test_a_failing_pg_dump_says_why_and_leaves_no_backup(
    fresh_dsn: str, stores: tuple[FilesystemObjectStore, FilesystemObjectStore], tmp_path: Path
) -> None:
    objects, target = stores
    with pytest.raises(BackupError, match=r"pg_dump failed \(exit 1\)"):
        await make_backup(
            dsn=fresh_dsn,
            objects=objects,
            target=target,
            pg_dump=Path("/bin/false"),
            work_dir=tmp_path / "work",
            version="test",
        )
    assert await backups.list_backups(target) == []
    assert not any((tmp_path / "work").iterdir())


WATCHING_PG_DUMP = """#!{python}
import json, os, stat, subprocess, sys
argv = sys.argv[1:]
dump = argv[argv.index("--file") + 1]
status = subprocess.call(["{real}", *argv])
mode = lambda path: stat.S_IMODE(os.stat(path).st_mode)
with open("{seen}", "w") as seen:
    json.dump({{"argv": argv, "password": os.environ.get("PGPASSWORD"),
               "modes": [mode(dump), mode(os.path.dirname(dump)), mode(os.path.dirname(os.path.dirname(dump)))]}}, seen)
sys.exit(status)
"""


def with_password(dsn: str, password: str) -> str:
    scheme, _, rest = dsn.partition("://")
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{password}@{host}"


async def test_pg_dump_gets_the_password_out_of_sight_and_the_dump_stays_private(
    fresh_dsn: str, stores: tuple[FilesystemObjectStore, FilesystemObjectStore], tmp_path: Path
) -> None:
    """A command line is visible to every local user (ps); the dump holds the accounts' password hashes."""
    import sys

    objects, target = stores
    seen = tmp_path / "seen.json"
    pg_dump = tmp_path / "pg_dump"
    pg_dump.write_text(WATCHING_PG_DUMP.format(python=sys.executable, real=find_tool("pg_dump"), seen=seen))
    pg_dump.chmod(0o755)
    await objects.put_bytes("originals/1/ab/photo.jpg", b"photo")

    info = await make_backup(
        dsn=with_password(fresh_dsn, "s3cr%40t"),  # percent-encoded in the URL: "s3cr@t"
        objects=objects,
        target=target,
        pg_dump=pg_dump,
        work_dir=tmp_path / "work",
        version="test",
        now=NIGHT,
    )

    watched = json.loads(seen.read_text())
    assert not any("s3cr" in arg for arg in watched["argv"]), watched["argv"]
    assert watched["password"] == "s3cr@t"
    _, dir_mode, work_mode = watched["modes"]
    assert dir_mode == 0o700 and work_mode == 0o700, "nobody else reaches the dump while it is made"
    for copy in (tmp_path / "target").rglob("*"):
        if copy.is_file():
            assert copy.stat().st_mode & 0o077 == 0, f"{copy} is readable by others"
    assert info.dump_bytes > 0


def test_the_password_leaves_the_dsn_in_either_place_it_may_be() -> None:
    assert backups.without_password("postgresql://addax:p%3Aw@db.example:5432/addax?sslmode=require") == (
        "postgresql://addax@db.example:5432/addax?sslmode=require",
        "p:w",
    )
    assert backups.without_password("postgres://addax@/addax?host=%2Frun&password=pw") == (
        "postgres://addax@/addax?host=%2Frun",
        "pw",
    )
    assert backups.without_password("postgresql://addax@/addax?host=%2Frun") == (
        "postgresql://addax@/addax?host=%2Frun",
        None,
    )


async def test_a_backup_that_fails_half_way_takes_its_pieces_back(
    fresh_dsn: str, stores: tuple[FilesystemObjectStore, FilesystemObjectStore], tmp_path: Path
) -> None:
    """The dump is in the target when an object cannot be read: nothing of the failed backup stays there."""
    objects, target = stores
    await objects.put_bytes("originals/1/ab/photo.jpg", b"photo")
    unreadable = tmp_path / "objects" / "originals" / "1" / "ef" / "photo.jpg"
    unreadable.parent.mkdir(parents=True)
    unreadable.symlink_to("/proc/self/mem")  # listed like any object; reading it fails with EIO

    with pytest.raises(ObjectStoreError, match=r"originals/1/ef/photo\.jpg"):
        await backup_at(fresh_dsn, objects, target, tmp_path, NIGHT)
    left = [p.relative_to(tmp_path / "target").as_posix() for p in (tmp_path / "target").rglob("*") if p.is_file()]
    assert not [key for key in left if key.startswith("2026-")], left


@pytest.mark.parametrize(
    "line",
    [
        b'{"key": "../../etc/passwd", "size": 1, "sha256": "' + b"a" * 64 + b'"}',
        b'{"key": "originals/x.jpg", "size": 1, "sha256": "../../../etc/shadow"}',
        b'{"key": "originals/x.jpg", "size": -1, "sha256": "' + b"a" * 64 + b'"}',
        b'{"key": "originals/x.jpg", "size": 1}',
    ],
)
def test_a_hostile_or_damaged_manifest_line_is_refused(line: bytes) -> None:
    with pytest.raises(BackupError, match=r"manifest\.jsonl line is damaged"):
        backups.parse_entry("2026-11-29T02-30-00Z", line)
