"""What the admin page reads and changes: members of projects, roles, projects' settings and storage, retries."""

import hashlib

import asyncpg

from addax.store import accounts, audit, projects, retries


async def _project(pool: asyncpg.Pool, name: str) -> int:
    return await accounts.add_project(pool, name, by="t")


async def test_members_shows_only_roles_in_the_asked_projects(pool: asyncpg.Pool, unique: str) -> None:
    wolves, otters = await _project(pool, f"wolves-{unique}"), await _project(pool, f"otters-{unique}")
    both = await accounts.add_user(
        pool, f"both-{unique}@x", "h", role=accounts.Role.VIEWER, project=f"wolves-{unique}", by="t"
    )
    await accounts.set_membership(pool, both, otters, accounts.Role.PROJECT_ADMIN, by="t")
    await accounts.add_user(
        pool, f"otter-{unique}@x", "h", role=accounts.Role.VIEWER, project=f"otters-{unique}", by="t"
    )

    found = await accounts.members(pool, projects=[wolves])

    assert [user["email"] for user in found] == [f"both-{unique}@x"]
    assert found[0]["projects"] == [{"project_id": wolves, "role": "viewer"}]
    assert "password_hash" not in found[0]


async def test_memberships_are_set_changed_and_removed_with_an_audit_record(pool: asyncpg.Pool, unique: str) -> None:
    wolves = await _project(pool, f"wolves-{unique}")
    user = await accounts.add_user(
        pool, f"ranger-{unique}@x", "h", role=accounts.Role.SERVER_ADMIN, project=None, by="t"
    )

    await accounts.set_membership(pool, user, wolves, accounts.Role.ANNOTATOR, by="boss")
    await accounts.set_membership(pool, user, wolves, accounts.Role.VIEWER, by="boss")
    role = await pool.fetchval(
        "SELECT role::text FROM memberships WHERE user_id = $1 AND project_id = $2", user, wolves
    )
    assert role == "viewer"
    assert await accounts.remove_membership(pool, user, wolves, by="boss")
    assert not await accounts.remove_membership(pool, user, wolves, by="boss")
    assert await pool.fetchval("SELECT count(*) FROM memberships WHERE user_id = $1", user) == 0

    actions = [
        (row["action"], row["details"].get("role"))
        for row in await audit.recent(pool, limit=20)
        if row["target"] == f"ranger-{unique}@x" and row["actor"] == "boss"
    ]
    assert sorted(actions, key=str) == sorted(
        [("membership.set", "annotator"), ("membership.set", "viewer"), ("membership.remove", None)], key=str
    )


async def test_settings_and_storage_use_per_project(pool: asyncpg.Pool, unique: str) -> None:
    wolves, otters = await _project(pool, f"wolves-{unique}"), await _project(pool, f"otters-{unique}")
    for number, size in enumerate((1000, 2500)):
        await pool.execute(
            """INSERT INTO images (project_id, stage, sha256, original_name, source, size_bytes, original_key)
               VALUES ($1, 'stored', $2, 'a.jpg', 'ftp', $3, 'k')""",
            wolves,
            hashlib.sha256(f"{unique}{number}".encode()).digest(),
            size,
        )

    assert await projects.storage_use(pool, projects=[wolves, otters]) == {wolves: (2, 3500), otters: (0, 0)}
    settings = await projects.settings(pool, projects=[wolves])
    assert [(s["name"], s["timezone"], s["sequence_gap_s"]) for s in settings] == [(f"wolves-{unique}", "UTC", 60)]


async def test_a_failed_image_is_retried_once_and_audited(pool: asyncpg.Pool, unique: str) -> None:
    wolves = await _project(pool, f"wolves-{unique}")
    image_id = await pool.fetchval(
        """INSERT INTO images (project_id, stage, sha256, original_name, source, size_bytes, original_key, attempts)
           VALUES ($1, 'failed', $2, 'b.jpg', 'ftp', 10, 'k', 5) RETURNING id""",
        wolves,
        hashlib.sha256(unique.encode()).digest(),
    )
    letter_id = await pool.fetchval(
        "INSERT INTO dead_letters (image_id, stage, error, attempts) VALUES ($1, 'detect', 'boom', 5) RETURNING id",
        image_id,
    )

    assert await retries.letter(pool, letter_id) == retries.Letter(image_id=image_id, notification_id=None)
    assert await retries.retry_image(pool, letter_id, by=f"admin-{unique}") == image_id
    assert await retries.retry_image(pool, letter_id, by=f"admin-{unique}") is None
    assert await pool.fetchval("SELECT stage::text FROM images WHERE id = $1", image_id) == "stored"
    audited = [row for row in await audit.recent(pool, limit=20) if row["actor"] == f"admin-{unique}"]
    assert [(row["action"], row["target"]) for row in audited] == [("dead_letter.retry", f"image:{image_id}")]
