"""Cameras, their placement (sites and deployments), daily health rows and the camera-updates feed."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from addax.domain.cameras import CameraIdentity
from addax.domain.filing import CameraStanding
from addax.domain.reports import DailyReport
from addax.domain.sites import Decision, DecisionKind, Placement, Point, Site
from addax.store import audit

# Decisions that change nothing are not written to the feed nor announced.
QUIET_DECISIONS = frozenset({DecisionKind.SAME_PLACE, DecisionKind.NO_GPS, DecisionKind.REPORT_IGNORED})

_POINT = "ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography"  # $1 latitude, $2 longitude


@dataclass(frozen=True, slots=True)
class Camera:
    id: int
    project_id: int
    name: str
    status: str
    timezone: str | None = None
    created: bool = False

    def standing(self) -> CameraStanding:
        return CameraStanding(id=self.id, name=self.name, status=self.status, timezone=self.timezone)


async def find_or_register(pool: asyncpg.Pool, project_id: int, identity: CameraIdentity) -> Camera:
    """The camera with this identity, read without a lock; registered as pending (with its feed entry) when new."""
    row = await pool.fetchrow(
        "SELECT id, project_id, name, status::text, timezone FROM cameras WHERE project_id = $1 AND identity = $2",
        project_id,
        identity.identity,
    )
    if row is not None:
        return Camera(**dict(row))
    async with pool.acquire() as connection, connection.transaction():
        camera = await camera_for(connection, project_id, identity, register=True)
    assert camera is not None
    return camera


async def lock(connection: asyncpg.Connection, camera_id: int) -> None:
    """Until the transaction ends, no other photo of this camera is filed (its placement is read and changed)."""
    await connection.execute("UPDATE cameras SET last_seen_at = now() WHERE id = $1", camera_id)


async def camera_for(
    connection: asyncpg.Connection, project_id: int, identity: CameraIdentity, *, register: bool
) -> Camera | None:
    """The camera with this identity; registered as pending when new (unless ``register`` is False)."""
    row = await connection.fetchrow(
        "SELECT id, project_id, name, status::text, timezone FROM cameras WHERE project_id = $1 AND identity = $2",
        project_id,
        identity.identity,
    )
    if row is not None:
        await connection.execute("UPDATE cameras SET last_seen_at = now() WHERE id = $1", row["id"])
        return Camera(**dict(row))
    if not register:
        return None
    name = f"{identity.make or 'camera'} {identity.identity}"[-60:].strip()
    row = await connection.fetchrow(
        """INSERT INTO cameras (project_id, identity, identity_kind, name, make, model, profile, last_seen_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now())
           ON CONFLICT (project_id, identity) DO UPDATE SET last_seen_at = now()
           RETURNING id, project_id, name, status::text, timezone, (xmax = 0) AS created""",
        project_id,
        identity.identity,
        str(identity.kind),
        name,
        identity.make,
        identity.model,
        identity.profile,
    )
    camera = Camera(**dict(row))
    if camera.created:
        await add_update(
            connection,
            camera.id,
            "registered",
            identity=identity.identity,
            identity_kind=str(identity.kind),
            profile=identity.profile,
            make=identity.make,
            model=identity.model,
        )
    return camera


async def add_update(connection: asyncpg.Connection, camera_id: int, kind: str, **details: Any) -> int:
    return int(
        await connection.fetchval(
            "INSERT INTO camera_updates (camera_id, kind, details) VALUES ($1, $2, $3) RETURNING id",
            camera_id,
            kind,
            details,
        )
    )


async def placement(connection: asyncpg.Connection, camera_id: int) -> Placement:
    row = await connection.fetchrow(
        """SELECT ST_Y(c.last_location::geometry) AS lat, ST_X(c.last_location::geometry) AS lon,
                  ST_Y(c.candidate_location::geometry) AS cand_lat, ST_X(c.candidate_location::geometry) AS cand_lon,
                  c.candidate_since, d.site_id, d.starts_on
           FROM cameras c LEFT JOIN deployments d ON d.camera_id = c.id AND d.ends_on IS NULL
           WHERE c.id = $1""",
        camera_id,
    )
    assert row is not None
    return Placement(
        location=Point(row["lat"], row["lon"]) if row["lat"] is not None else None,
        site_id=row["site_id"],
        deployment_start=row["starts_on"],
        candidate=Point(row["cand_lat"], row["cand_lon"]) if row["cand_lat"] is not None else None,
        candidate_since=row["candidate_since"],
    )


async def sites_of(connection: asyncpg.Connection, project_id: int) -> list[Site]:
    rows = await connection.fetch(
        "SELECT id, ST_Y(location::geometry) AS lat, ST_X(location::geometry) AS lon FROM sites"
        " WHERE project_id = $1 AND location IS NOT NULL",
        project_id,
    )
    return [Site(row["id"], Point(row["lat"], row["lon"])) for row in rows]


async def apply(connection: asyncpg.Connection, camera: Camera, decision: Decision) -> None:
    """Carry out a placement decision: new site, closed and opened deployments, images moved, feed entry."""
    site_id = decision.site_id
    if decision.create_site_at is not None:
        site_id = await connection.fetchval(
            f"INSERT INTO sites (project_id, name, location) VALUES ($3, $4, {_POINT}) RETURNING id",
            decision.create_site_at.latitude,
            decision.create_site_at.longitude,
            camera.project_id,
            f"Site {decision.create_site_at}",
        )
    state = dataclasses.replace(decision.placement, site_id=site_id)
    closed_id = opened_id = None
    if decision.close_deployment_on is not None:
        closed_id = await connection.fetchval(
            """UPDATE deployments SET ends_on = GREATEST(starts_on, $2) WHERE camera_id = $1 AND ends_on IS NULL
               RETURNING id""",
            camera.id,
            decision.close_deployment_on,
        )
    if decision.open_deployment_on is not None:
        location = state.location
        opened_id = await connection.fetchval(
            f"""INSERT INTO deployments (camera_id, site_id, location, starts_on)
                VALUES ($3, $4, CASE WHEN $1::float8 IS NULL THEN NULL ELSE {_POINT} END, $5) RETURNING id""",
            location.latitude if location else None,
            location.longitude if location else None,
            camera.id,
            site_id,
            decision.open_deployment_on,
        )
        # Images taken from the move on were filed under the old deployment while the move was unconfirmed.
        await connection.execute(
            """UPDATE images SET deployment_id = $2, site_id = $3
               WHERE camera_id = $1
                 AND ((taken_at AT TIME ZONE 'UTC')
                      + make_interval(mins => COALESCE(utc_offset_minutes, 0)))::date >= $4""",
            camera.id,
            opened_id,
            site_id,
            decision.open_deployment_on,
        )
    await _save_placement(connection, camera.id, state)
    if decision.kind not in QUIET_DECISIONS:
        await add_update(
            connection,
            camera.id,
            str(decision.kind),
            summary=decision.summary,
            site_id=site_id,
            closed_deployment_id=closed_id,
            opened_deployment_id=opened_id,
        )


async def _save_placement(connection: asyncpg.Connection, camera_id: int, state: Placement) -> None:
    location, candidate = state.location, state.candidate
    await connection.execute(
        f"""UPDATE cameras SET
              last_location = CASE WHEN $1::float8 IS NULL THEN NULL ELSE {_POINT} END,
              candidate_location = CASE WHEN $4::float8 IS NULL THEN NULL
                                   ELSE ST_SetSRID(ST_MakePoint($5, $4), 4326)::geography END,
              candidate_since = $6
            WHERE id = $3""",
        location.latitude if location else None,
        location.longitude if location else None,
        camera_id,
        candidate.latitude if candidate else None,
        candidate.longitude if candidate else None,
        state.candidate_since,
    )


async def deployment_on(connection: asyncpg.Connection, camera_id: int, day: date) -> tuple[int | None, int | None]:
    """(deployment id, site id) of the camera on ``day``, or the open one when none covers it."""
    row = await connection.fetchrow(
        """SELECT id, site_id FROM deployments WHERE camera_id = $1
             AND ((starts_on <= $2 AND (ends_on IS NULL OR ends_on >= $2)) OR ends_on IS NULL)
           ORDER BY (starts_on <= $2 AND (ends_on IS NULL OR ends_on >= $2)) DESC, starts_on DESC LIMIT 1""",
        camera_id,
        day,
    )
    return (row["id"], row["site_id"]) if row else (None, None)


async def record_health(
    connection: asyncpg.Connection,
    camera_id: int,
    report: DailyReport,
    *,
    report_date: date,
    reported_at: datetime | None,
    raw: str,
) -> None:
    """One row per camera per day; a second report that day replaces the first."""
    await connection.execute(
        """INSERT INTO camera_health_reports (camera_id, report_date, signal_csq, temperature_c, battery_pct,
               sd_free_mb, sd_total_mb, location, pictures_taken, pictures_sent, reported_at, raw)
           VALUES ($1, $2, $3, $4, $5, $6, $7,
                   CASE WHEN $8::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($9, $8), 4326)::geography END,
                   $10, $11, $12, $13)
           ON CONFLICT (camera_id, report_date) DO UPDATE SET
               signal_csq = EXCLUDED.signal_csq, temperature_c = EXCLUDED.temperature_c,
               battery_pct = EXCLUDED.battery_pct, sd_free_mb = EXCLUDED.sd_free_mb,
               sd_total_mb = EXCLUDED.sd_total_mb, location = EXCLUDED.location,
               pictures_taken = EXCLUDED.pictures_taken, pictures_sent = EXCLUDED.pictures_sent,
               reported_at = EXCLUDED.reported_at, raw = EXCLUDED.raw, received_at = now()""",
        camera_id,
        report_date,
        report.signal_csq,
        report.temperature_c,
        report.battery_pct,
        report.sd_free_mb,
        report.sd_total_mb,
        report.latitude,
        report.longitude,
        report.pictures_taken,
        report.pictures_sent,
        reported_at,
        raw,
    )


async def edit(
    connection: asyncpg.Connection, camera_id: int, *, name: str | None, status: str | None, timezone: str | None
) -> None:
    """An admin names a camera, approves it (pending -> active), retires it, or sets its clock's zone."""
    await connection.execute(
        """UPDATE cameras SET name = COALESCE($2, name), status = COALESCE($3::camera_status, status),
                              timezone = COALESCE($4, timezone) WHERE id = $1""",
        camera_id,
        name,
        status,
        timezone,
    )
    await add_update(connection, camera_id, "edited", name=name, status=status, timezone=timezone)


async def edit_audited(
    pool: asyncpg.Pool,
    camera_id: int,
    *,
    by: str,
    name: str | None = None,
    status: str | None = None,
    timezone: str | None = None,
) -> None:
    """``edit`` and its audit record, in one transaction (the API and the dashboard both change cameras so)."""
    async with pool.acquire() as connection, connection.transaction():
        await edit(connection, camera_id, name=name, status=status, timezone=timezone)
        await audit.record(
            connection,
            actor=by,
            action="camera.edit",
            target=str(camera_id),
            name=name,
            status=status,
            timezone=timezone,
        )


# One-bigint advisory lock keys for "the sites of project N" (content locks use the two-int key space).
_SITE_LOCK_BASE = 1 << 40


async def lock_sites(connection: asyncpg.Connection, project_id: int) -> None:
    """Until the transaction ends, no other decision may found a site in this project."""
    await connection.execute("SELECT pg_advisory_xact_lock($1)", _SITE_LOCK_BASE + project_id)
