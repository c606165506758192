"""`addax import camtrap-dp PACKAGE --project P` as an operator types it (a subprocess against a real database)."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from addax.store.database import create_pool
from tests.service import cli_on
from tests.store.test_camtrap_import import example_dir, rewrite, zipped


async def test_import_camtrap_dp_from_the_command_line(fresh_dsn: str, tmp_path: Path) -> None:
    assert (await cli_on(fresh_dsn, "project", "add", "mica")).returncode == 0
    add = await cli_on(
        fresh_dsn,
        "user",
        "add",
        "eva@example.org",
        "--role",
        "annotator",
        "--project",
        "mica",
        "--password-stdin",
        stdin="pw\n",
    )
    assert add.returncode == 0, add.stderr
    package = zipped(example_dir(tmp_path / "example", with_media=True), tmp_path / "example.zip")

    result = await cli_on(
        fresh_dsn, "import", "camtrap-dp", str(package), "--project", "mica", "--as", "eva@example.org", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert "deployments: 4 created, 0 already imported" in result.stdout
    assert "media: 10 imported (0 wait for the detector), 0 matched" in result.stdout
    assert "observations: 0 as verifications, 10 as detections" in result.stdout
    stored = sorted(path.name for path in (tmp_path / "data" / "objects" / "originals").rglob("*.jpg"))
    assert len(stored) == 10  # the data dir's object store (storage.backend = fs)

    again = await cli_on(fresh_dsn, "import", "camtrap-dp", str(package), "--project", "mica", cwd=tmp_path)
    assert again.returncode == 0 and "media: 0 imported" in again.stdout and "10 already imported" in again.stdout

    broken = example_dir(tmp_path / "broken", with_media=False)
    rewrite(broken / "observations.csv", {12: {"observationType": "cat"}})
    refused = await cli_on(fresh_dsn, "import", "camtrap-dp", str(broken), "--project", "mica", cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.splitlines()[:2] == [
        "addax: the package has 1 problem(s), nothing imported (--skip-invalid leaves those rows out):",
        "  observations.csv line 12: observationType 'cat' is not one of animal, human, vehicle, blank, unknown,"
        " unclassified",
    ]
    wrong = await cli_on(fresh_dsn, "import", "camtrap-dp", str(tmp_path / "nothing.zip"), "--project", "mica")
    assert wrong.returncode == 1 and "nothing.zip: no such file or directory" in wrong.stderr
    mixed = await cli_on(fresh_dsn, "import", str(tmp_path), "--project", "mica", "--skip-invalid")
    assert mixed.returncode == 1 and "addax import camtrap-dp PACKAGE --project P" in mixed.stderr

    pool = await create_pool(fresh_dsn, size=1)
    try:
        assert await pool.fetchval("SELECT count(*) FROM images") == 10
        assert await _actions(pool) == ["project.import_camtrap_dp", "project.import_camtrap_dp"]
    finally:
        await pool.close()


async def _actions(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch("SELECT action FROM audit_log WHERE action LIKE 'project.import%' ORDER BY id")
    return [row["action"] for row in rows]


async def test_import_as_someone_who_may_not_verify_the_project_is_refused(fresh_dsn: str, tmp_path: Path) -> None:
    for name in ("mica", "other"):
        assert (await cli_on(fresh_dsn, "project", "add", name)).returncode == 0
    for email, role, project in (("outsider@example.org", "project-admin", "other"),
                                 ("viewer@example.org", "viewer", "mica")):  # fmt: skip
        add = await cli_on(
            fresh_dsn, "user", "add", email, "--role", role, "--project", project, "--password-stdin", stdin="pw\n"
        )
        assert add.returncode == 0, add.stderr
    package = example_dir(tmp_path / "example", with_media=True)
    for email in ("outsider@example.org", "viewer@example.org"):
        result = await cli_on(
            fresh_dsn, "import", "camtrap-dp", str(package), "--project", "mica", "--as", email, cwd=tmp_path
        )
        assert result.returncode == 1
        assert f"--as {email}: not a project-admin or annotator of 'mica'" in result.stderr
    pool = await create_pool(fresh_dsn, size=1)
    try:
        assert await pool.fetchval("SELECT count(*) FROM images") == 0
    finally:
        await pool.close()
