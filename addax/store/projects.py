"""A project's settings as the ingestor and the pipeline need them."""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg

from addax.domain.filing import IntakeRules


async def intake_rules(db: asyncpg.Connection | asyncpg.Pool, project_id: int) -> IntakeRules:
    row = await db.fetchrow(
        "SELECT id AS project_id, timezone, require_camera_registration, require_timestamp, site_radius_m"
        " FROM projects WHERE id = $1",
        project_id,
    )
    if row is None:
        raise LookupError(f"project {project_id} does not exist")
    return IntakeRules(**dict(row))


@dataclass(frozen=True, slots=True)
class PipelineSettings:
    """What the classifier and the finisher need of a project."""

    detection_threshold: float  # boxes below it are not classified, drawn or counted in events
    allowed_species: frozenset[str]  # empty: every label of the model
    species_thresholds: dict[str, float]
    sequence_gap_s: int


async def pipeline_settings(db: asyncpg.Connection | asyncpg.Pool, project_id: int) -> PipelineSettings:
    row = await db.fetchrow(
        """SELECT detection_threshold, allowed_species, species_thresholds, sequence_gap_s
           FROM projects WHERE id = $1""",
        project_id,
    )
    if row is None:
        raise LookupError(f"project {project_id} does not exist")
    thresholds = row["species_thresholds"]
    if isinstance(thresholds, str):
        thresholds = json.loads(thresholds)
    return PipelineSettings(
        detection_threshold=float(row["detection_threshold"]),
        allowed_species=frozenset(row["allowed_species"]),
        species_thresholds={str(k): float(v) for k, v in thresholds.items()},
        sequence_gap_s=int(row["sequence_gap_s"]),
    )


async def settings(db: asyncpg.Pool, *, projects: list[int]) -> list[dict[str, object]]:
    """The settings an admin reads at a glance, of these projects, by name."""
    rows = await db.fetch(
        """SELECT id, name, timezone, detection_threshold, sequence_gap_s, site_radius_m,
                  require_camera_registration, require_timestamp, created_at
           FROM projects WHERE id = ANY($1::bigint[]) ORDER BY name""",
        projects,
    )
    return [dict(row) for row in rows]


async def storage_use(db: asyncpg.Pool, *, projects: list[int]) -> dict[int, tuple[int, int]]:
    """(files, bytes of originals) per project; each project's images found through its index."""
    rows = await db.fetch(
        """SELECT p.id, used.files, used.bytes FROM unnest($1::bigint[]) AS p(id)
           CROSS JOIN LATERAL (SELECT count(*) AS files, coalesce(sum(i.size_bytes), 0) AS bytes
                               FROM images i WHERE i.project_id = p.id) AS used""",
        projects,
    )
    return {int(row["id"]): (int(row["files"]), int(row["bytes"])) for row in rows}
