"""One backup at a time per server: a rotation must not delete the pool copies a backup running beside it relies on
(`addax backup now` while the nightly one runs). Against a real PostgreSQL and a directory target."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from addax import backup_service, config
from addax.config import Config
from addax.store import backup_restore, backups
from addax.store.backups import BackupError
from addax.store.object_fs import FilesystemObjectStore


@pytest.fixture
def settings(tmp_path: Path) -> Config:
    return config.load(
        environ={"ADDAX_GENERAL_DATA_DIR": str(tmp_path / "data"), "ADDAX_BACKUP_TARGET": str(tmp_path / "backups")}
    )


async def test_a_second_backup_beside_a_running_one_is_refused_and_the_nightly_one_waits_its_turn(
    fresh_dsn: str, settings: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = FilesystemObjectStore(settings.data_path / "objects")
    await objects.put_bytes("originals/1/ab/photo.jpg", b"photo")
    target = FilesystemObjectStore(tmp_path / "backups")
    monkeypatch.setattr(backup_service, "LOCK_POLL_S", 0.02)

    async with backup_service.one_backup_at_a_time(settings, wait=False):  # another backup is being made
        with pytest.raises(BackupError, match=r"another backup of this server is being made right now"):
            await backup_service.back_up(settings, dsn=fresh_dsn, objects=objects)
        nightly = asyncio.create_task(backup_service.nightly(settings, dsn=fresh_dsn, objects=objects)())
        done, _ = await asyncio.wait({nightly}, timeout=1.0)
        assert not done, "the nightly backup waits for the running one"
        assert await backups.list_backups(target) == []

    summary = await nightly
    assert summary.startswith("backup ") and len(await backups.list_backups(target)) == 1


async def test_what_a_crashed_backup_left_in_the_data_dir_goes_with_the_next_one(
    fresh_dsn: str, settings: Config
) -> None:
    crashed = settings.data_path / backup_service.WORK_DIR / "backup-2026-11-28T02-30-00Z"
    crashed.mkdir(parents=True)
    (crashed / "database.dump").write_bytes(b"PGDMP a dump the size of the database")
    objects = FilesystemObjectStore(settings.data_path / "objects")

    await backup_service.back_up(settings, dsn=fresh_dsn, objects=objects)

    assert [p.name for p in (settings.data_path / backup_service.WORK_DIR).iterdir()] == [backup_service.LOCK]


def test_a_verify_summary_shows_the_first_problems_and_counts_the_rest() -> None:
    info = backups.BackupInfo(
        name="2026-11-29T02-30-00Z",
        created_at="2026-11-29T02:30:00+00:00",
        finished_at="2026-11-29T02:31:00+00:00",
        addax_version="test",
        migration=11,
        database_bytes=1,
        dump_bytes=1,
        dump_sha256="0" * 64,
        manifest_sha256="0" * 64,
        object_count=5000,
        object_bytes=5_000_000,
        copied_count=0,
        copied_bytes=0,
        vanished=0,
    )
    problems = [f"originals/1/{n}.jpg: its copy is missing" for n in range(1000)]
    verification = backup_restore.Verification(backup_restore.RestoredObjects(5000, 5_000_000), 4000, problems)
    lines = backup_service.VerifyOutcome(info, verification, seconds=2.0).summary().splitlines()
    assert lines[0].startswith("backup 2026-11-29T02-30-00Z is damaged: 4000 problems (the dump and 5000 objects")
    assert lines[1:51] == [f"  {problem}" for problem in problems[:50]] and lines[51:] == ["  ... and 3950 more"]
    whole = backup_restore.Verification(backup_restore.RestoredObjects(5000, 5_000_000))
    assert backup_service.VerifyOutcome(info, whole, seconds=2.0).summary() == (
        "backup 2026-11-29T02-30-00Z is whole: the dump and 5000 objects (5.0 MB) read in 2.0 s, "
        "every SHA-256 and size checked"
    )


async def test_reading_commands_do_not_create_a_missing_target(settings: Config, tmp_path: Path) -> None:
    """A mistyped or unmounted target must not turn into an empty directory that looks like "no backups yet"."""
    missing = tmp_path / "backups"
    assert await backup_service.list_backups(settings) == (str(missing), [])
    with pytest.raises(BackupError, match=rf"^{missing} does not exist: no backups there"):
        await backup_service.verify(settings, "2026-11-29T02-30-00Z")
    with pytest.raises(BackupError, match=rf"^{missing} does not exist: no backups there"):
        await backup_service.restore(settings, "2026-11-29T02-30-00Z", tmp_path / "restored")
    assert not missing.exists() and not (tmp_path / "restored").exists()
