"""Field work against the real database: every change stays inside the caller's projects; deleting a camera,
image, site or project takes its field work with it."""

from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from addax.domain.field_work import FieldWorkError, MaintenanceKind
from addax.store import camera_board, field_work
from addax.store.field_work import DuplicateName, NotInProject


async def _project(pool: asyncpg.Pool, name: str) -> int:
    return int(await pool.fetchval("INSERT INTO projects (name) VALUES ($1) RETURNING id", name))


async def _camera(pool: asyncpg.Pool, project: int, name: str, **columns: object) -> int:
    return int(
        await pool.fetchval(
            """INSERT INTO cameras (project_id, identity, identity_kind, name, last_seen_at)
               VALUES ($1, $2, 'serial', $2, $3) RETURNING id""",
            project,
            name,
            columns.get("last_seen_at"),
        )
    )


async def _site(pool: asyncpg.Pool, project: int, name: str, lat: float = 52.0, lon: float = 5.0) -> int:
    return int(
        await pool.fetchval(
            """INSERT INTO sites (project_id, name, location)
               VALUES ($1, $2, ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography) RETURNING id""",
            project,
            name,
            lat,
            lon,
        )
    )


async def _user(pool: asyncpg.Pool, email: str) -> int:
    return int(await pool.fetchval("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", email))


async def test_maintenance_log_is_kept_per_camera_and_only_in_the_callers_projects(
    pool: asyncpg.Pool, unique: str
) -> None:
    wolves, otters = await _project(pool, f"wolves-{unique}"), await _project(pool, f"otters-{unique}")
    camera = await _camera(pool, wolves, f"gate-{unique}")
    user = await _user(pool, f"ranger-{unique}@example.org")

    first = await field_work.add_maintenance(
        pool, camera, projects=[wolves], done_on=date(2026, 5, 1), kind=MaintenanceKind.BATTERIES,
        note="  six fresh AA  ", user_id=user, email=f"ranger-{unique}@example.org",
    )  # fmt: skip
    second = await field_work.add_maintenance(
        pool, camera, projects=[wolves], done_on=date(2026, 6, 1), kind=MaintenanceKind.SD_CARD,
        note="", user_id=user, email=f"ranger-{unique}@example.org",
    )  # fmt: skip
    log = await field_work.maintenance(pool, camera, projects=[wolves])
    assert [entry["id"] for entry in log] == [second, first]  # newest first
    assert log[1]["kind"] == "batteries" and log[1]["note"] == "six fresh AA"
    assert log[1]["done_by_email"] == f"ranger-{unique}@example.org"

    with pytest.raises(NotInProject):
        await field_work.add_maintenance(
            pool, camera, projects=[otters], done_on=date(2026, 6, 2), kind=MaintenanceKind.OTHER,
            note="not mine", user_id=user, email="x",
        )  # fmt: skip
    assert await field_work.maintenance(pool, camera, projects=[otters]) == []
    assert await pool.fetchval("SELECT count(*) FROM camera_maintenance WHERE camera_id = $1", camera) == 2
    with pytest.raises(FieldWorkError, match="at most"):
        await field_work.add_maintenance(
            pool, camera, projects=[wolves], done_on=date(2026, 6, 2), kind=MaintenanceKind.OTHER,
            note="x" * 2001, user_id=user, email="x",
        )  # fmt: skip

    await pool.execute("DELETE FROM users WHERE id = $1", user)  # the log outlives its author
    assert (await field_work.maintenance(pool, camera, projects=[wolves]))[0]["done_by_email"].startswith("ranger")


async def test_tags_are_cleaned_deduplicated_and_checked(pool: asyncpg.Pool, unique: str) -> None:
    wolves, otters = await _project(pool, f"wolves-{unique}"), await _project(pool, f"otters-{unique}")
    camera = await _camera(pool, wolves, f"gate-{unique}")
    assert await field_work.tag_camera(pool, camera, "  North   Ridge ", projects=[wolves]) == "north ridge"
    await field_work.tag_camera(pool, camera, "north ridge", projects=[wolves])
    await field_work.tag_camera(pool, camera, "solar", projects=[wolves])
    assert await field_work.camera_tags(pool, camera, projects=[wolves]) == ["north ridge", "solar"]

    with pytest.raises(NotInProject):
        await field_work.tag_camera(pool, camera, "mine now", projects=[otters])
    await field_work.untag_camera(pool, camera, "solar", projects=[otters])  # not theirs: nothing happens
    assert await field_work.camera_tags(pool, camera, projects=[wolves]) == ["north ridge", "solar"]
    await field_work.untag_camera(pool, camera, "solar", projects=[wolves])
    assert await field_work.camera_tags(pool, camera, projects=[wolves]) == ["north ridge"]
    with pytest.raises(FieldWorkError):
        await field_work.tag_camera(pool, camera, "   ", projects=[wolves])

    image = await pool.fetchval(
        """INSERT INTO images (project_id, camera_id, kind, stage, sha256, original_name, source, size_bytes)
           VALUES ($1, $2, 'photo', 'done', decode(md5($3), 'hex'), 'a.jpg', 'http', 1) RETURNING id""",
        wolves,
        camera,
        unique,
    )
    await field_work.tag_image(pool, image, "Wolf pack", projects=[wolves])
    await field_work.tag_image(pool, image, "wolf pack", projects=[wolves])
    assert await field_work.image_tags(pool, image, projects=[wolves]) == ["wolf pack"]
    with pytest.raises(NotInProject):
        await field_work.tag_image(pool, image, "x", projects=[otters])
    assert await field_work.image_tags(pool, image, projects=[otters]) == []
    await field_work.untag_image(pool, image, "wolf pack", projects=[wolves])
    assert await field_work.image_tags(pool, image, projects=[wolves]) == []


async def test_site_groups_hold_sites_of_their_own_project_only(pool: asyncpg.Pool, unique: str) -> None:
    wolves, otters = await _project(pool, f"wolves-{unique}"), await _project(pool, f"otters-{unique}")
    north, south = await _site(pool, wolves, "North gate"), await _site(pool, wolves, "South meadow")
    river = await _site(pool, otters, "River bend")

    group = await field_work.create_site_group(pool, wolves, " Ridge  line ", projects=[wolves])
    with pytest.raises(DuplicateName):
        await field_work.create_site_group(pool, wolves, "Ridge line", projects=[wolves])
    with pytest.raises(NotInProject):
        await field_work.create_site_group(pool, wolves, "Theirs", projects=[otters])

    await field_work.set_group_sites(pool, group, [north, south], projects=[wolves])
    with pytest.raises(NotInProject):
        await field_work.set_group_sites(pool, group, [north, river], projects=[wolves, otters])
    with pytest.raises(NotInProject):
        await field_work.set_group_sites(pool, group, [north], projects=[otters])
    (found,) = await field_work.site_groups(pool, projects=[wolves])
    assert found["name"] == "Ridge line" and found["site_names"] == ["North gate", "South meadow"]
    assert await field_work.site_groups(pool, projects=[otters]) == []

    await pool.execute("DELETE FROM sites WHERE id = $1", south)
    assert (await field_work.site_groups(pool, projects=[wolves]))[0]["site_ids"] == [north]
    with pytest.raises(NotInProject):
        await field_work.delete_site_group(pool, group, projects=[otters])
    await field_work.delete_site_group(pool, group, projects=[wolves])
    assert await field_work.site_groups(pool, projects=[wolves]) == []


async def test_reference_photos_newest_wins_and_go_with_their_camera(pool: asyncpg.Pool, unique: str) -> None:
    wolves, otters = await _project(pool, f"wolves-{unique}"), await _project(pool, f"otters-{unique}")
    camera = await _camera(pool, wolves, f"gate-{unique}")
    user = await _user(pool, f"ranger-{unique}@example.org")
    for key in ("reference/1/a.jpg", "reference/1/b.jpg"):
        await field_work.add_reference_photo(
            pool, camera, projects=[wolves], object_key=key, content_type="image/jpeg", size_bytes=10, user_id=user
        )
    found = await field_work.reference_photo(pool, camera, projects=[wolves])
    assert found is not None and found["object_key"] == "reference/1/b.jpg"
    assert found["uploaded_by"] == f"ranger-{unique}@example.org"
    assert await field_work.reference_photo(pool, camera, projects=[otters]) is None
    with pytest.raises(NotInProject):
        await field_work.add_reference_photo(
            pool, camera, projects=[otters], object_key="k", content_type="image/jpeg", size_bytes=1, user_id=user
        )

    await field_work.add_maintenance(
        pool, camera, projects=[wolves], done_on=date(2026, 5, 1), kind=MaintenanceKind.MOVED, note="",
        user_id=user, email="x",
    )  # fmt: skip
    await field_work.tag_camera(pool, camera, "solar", projects=[wolves])
    await pool.execute("DELETE FROM projects WHERE id = $1", wolves)
    for table in ("camera_maintenance", "camera_reference_photos", "camera_tags"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE camera_id = $1", camera) == 0


async def test_camera_rows_carry_the_latest_report_and_a_position(pool: asyncpg.Pool, unique: str) -> None:
    wolves, otters = await _project(pool, f"wolves-{unique}"), await _project(pool, f"otters-{unique}")
    now = datetime.now(UTC)
    placed = await _camera(pool, wolves, f"gate-{unique}", last_seen_at=now - timedelta(hours=2))
    lost = await _camera(pool, wolves, f"lost-{unique}")
    await _camera(pool, otters, f"river-{unique}")
    site = await _site(pool, wolves, "North gate", lat=52.5, lon=5.5)
    await pool.execute(
        "INSERT INTO deployments (camera_id, site_id, starts_on) VALUES ($1, $2, '2026-01-01')", placed, site
    )
    for day, battery in (("2026-05-01", 90), ("2026-05-03", 40), ("2026-05-02", 60)):
        await pool.execute(
            """INSERT INTO camera_health_reports (camera_id, report_date, battery_pct, sd_free_mb, raw)
               VALUES ($1, $2, $3, 1000, '')""",
            placed,
            date.fromisoformat(day),
            battery,
        )

    rows = {row["id"]: row for row in await camera_board.camera_rows(pool, projects=[wolves])}
    assert set(rows) == {placed, lost}
    assert rows[placed]["battery_pct"] == 40 and rows[placed]["site"] == "North gate"
    assert (rows[placed]["latitude"], rows[placed]["longitude"]) == pytest.approx((52.5, 5.5))
    assert rows[lost]["latitude"] is None and rows[lost]["battery_pct"] is None

    (point,) = await camera_board.site_points(pool, projects=[wolves])
    assert point["cameras"] == 1 and point["last_seen_at"] == rows[placed]["last_seen_at"]


async def test_a_cameras_deployments_and_photos_per_day(pool: asyncpg.Pool, unique: str) -> None:
    wolves = await _project(pool, f"wolves-{unique}")
    camera = await _camera(pool, wolves, f"gate-{unique}")
    site = await _site(pool, wolves, "North gate")
    old, new = [
        await pool.fetchval(
            "INSERT INTO deployments (camera_id, site_id, starts_on, ends_on) VALUES ($1, $2, $3, $4) RETURNING id",
            camera,
            site if starts.month == 5 else None,
            starts,
            ends,
        )
        for starts, ends in ((date(2026, 5, 1), date(2026, 5, 31)), (date(2026, 6, 1), None))
    ]
    for number, (deployment, taken, stage) in enumerate(
        [(old, "2026-05-02T10:00Z", "done"), (old, "2026-05-02T23:00Z", "done"), (new, "2026-06-03T08:00Z", "done"),
         (new, "2026-06-03T09:00Z", "rejected")]
    ):  # fmt: skip
        await pool.execute(
            """INSERT INTO images (project_id, camera_id, deployment_id, stage, sha256, original_name, source,
                                   size_bytes, taken_at)
               VALUES ($1, $2, $3, $4::image_stage, decode(md5($5), 'hex'), 'a.jpg', 'http', 1, $6)""",
            wolves,
            camera,
            deployment,
            stage,
            f"{unique}-{number}",
            datetime.fromisoformat(taken),
        )
    found = await camera_board.deployments_of(pool, camera)
    assert [(d["id"], d["site"], d["images"]) for d in found] == [(new, None, 1), (old, "North gate", 2)]
    per_day = await camera_board.images_per_day(pool, camera, since=datetime(2026, 5, 1, tzinfo=UTC))
    assert [(row["day"], row["images"]) for row in per_day] == [(date(2026, 5, 2), 2), (date(2026, 6, 3), 1)]
