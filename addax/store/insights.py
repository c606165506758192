"""The aggregates behind the insights page, for one project, a time window and optionally one site.

Every query starts from the project's photos in the window (the ``images_project_taken`` index), and adds them up
in SQL: the page receives counts per bucket, per hour, per minute, never one row per photo.

What a photo shows is its *effective* species: a person's verification (``verifications.boxes``) when there is one,
else the top-1 species of each model box at or above the project's detection threshold.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import asyncpg

from addax.domain.insights import MISSED, NO_SPECIES, REMOVED, Sighting
from addax.domain.species_report import ActiveSpan

NO_SITE = "(no site)"


@dataclass(frozen=True, slots=True)
class Scope:
    project_id: int
    since: datetime
    until: datetime
    site_id: int | None = None

    def args(self) -> tuple[int, datetime, datetime, int | None]:
        return self.project_id, self.since, self.until, self.site_id


# $1 project, $2 since, $3 until, $4 site or NULL. One row per photo and species: its individuals, and the photo's
# camera-local time (the offset the camera reported, else the project's zone).
_SIGHTINGS = """
WITH photos AS (
    SELECT i.id, i.camera_id, i.site_id, i.taken_at, i.verified, i.taxa,
           CASE WHEN i.utc_offset_minutes IS NOT NULL
                THEN (i.taken_at AT TIME ZONE 'UTC') + make_interval(mins => i.utc_offset_minutes)
                ELSE i.taken_at AT TIME ZONE (SELECT timezone FROM projects WHERE id = $1) END AS local_at
    FROM images i
    WHERE i.project_id = $1 AND i.taken_at >= $2 AND i.taken_at < $3 AND i.stage = 'done' AND i.kind <> 'report'
      AND cardinality(i.taxa) > 0 AND ($4::bigint IS NULL OR i.site_id = $4)
),
sightings AS (
    SELECT p.id, p.camera_id, p.site_id, p.taken_at, p.local_at, s.taxon, s.individuals
    FROM photos p CROSS JOIN LATERAL (
        -- a person's count for the whole photo (individuals) holds when the photo shows one species
        SELECT b.taxon, coalesce(CASE WHEN count(*) OVER () = 1 THEN v.individuals END, b.individuals) AS individuals
        FROM verifications v CROSS JOIN LATERAL (
            SELECT e->>'taxon' AS taxon, sum(coalesce((e->>'count')::int, 1))::int AS individuals
            FROM jsonb_array_elements(v.boxes) e WHERE e->>'taxon' IS NOT NULL GROUP BY 1) b
        WHERE p.verified AND v.image_id = p.id AND NOT v.blank
        UNION ALL
        SELECT c.taxon, count(DISTINCT d.id)::int
        FROM detections d JOIN classifications c ON c.detection_id = d.id AND c.rank = 1
        WHERE NOT p.verified AND d.image_id = p.id AND c.taxon = ANY(p.taxa)
          AND d.score >= (SELECT detection_threshold FROM projects WHERE id = $1)
        GROUP BY c.taxon
    ) s
)
"""


async def project_timezone(db: asyncpg.Pool, project_id: int) -> str:
    return str(await db.fetchval("SELECT timezone FROM projects WHERE id = $1", project_id) or "UTC")


async def counts_over_time(
    db: asyncpg.Pool, scope: Scope, bucket: Literal["day", "week"]
) -> list[tuple[str, str, int]]:
    """(species, first day of the bucket as YYYY-MM-DD, photos)."""
    rows = await db.fetch(
        _SIGHTINGS
        + """SELECT taxon, to_char(date_trunc($5, local_at), 'YYYY-MM-DD') AS bucket, count(*) AS photos
             FROM sightings GROUP BY 1, 2""",
        *scope.args(),
        bucket,
    )
    return [(row["taxon"], row["bucket"], int(row["photos"])) for row in rows]


async def photos_by_hour(db: asyncpg.Pool, scope: Scope) -> list[tuple[str, int, int]]:
    """(species, camera-local hour, photos)."""
    rows = await db.fetch(
        _SIGHTINGS
        + "SELECT taxon, extract(hour FROM local_at)::int AS hour, count(*) AS photos FROM sightings GROUP BY 1, 2",
        *scope.args(),
    )
    return [(row["taxon"], int(row["hour"]), int(row["photos"])) for row in rows]


async def times_of_day(db: asyncpg.Pool, scope: Scope, species: list[str]) -> dict[str, dict[float, int]]:
    """Per species: camera-local time of day to the minute (in hours) -> photos."""
    rows = await db.fetch(
        _SIGHTINGS
        + """SELECT taxon, (extract(hour FROM local_at) * 60 + extract(minute FROM local_at))::int AS minute,
                    count(*) AS photos
             FROM sightings WHERE taxon = ANY($5::text[]) GROUP BY 1, 2""",
        *scope.args(),
        species,
    )
    found: dict[str, dict[float, int]] = {taxon: {} for taxon in species}
    for row in rows:
        found[row["taxon"]][row["minute"] / 60] = int(row["photos"])
    return found


async def group_sizes(db: asyncpg.Pool, scope: Scope) -> list[tuple[str, int, int]]:
    """(species, individuals in one photo, photos)."""
    rows = await db.fetch(
        _SIGHTINGS + "SELECT taxon, individuals, count(*) AS photos FROM sightings WHERE individuals > 0 GROUP BY 1, 2",
        *scope.args(),
    )
    return [(row["taxon"], int(row["individuals"]), int(row["photos"])) for row in rows]


async def sightings(db: asyncpg.Pool, scope: Scope) -> list[Sighting]:
    """The species per camera per minute (its largest group that minute): the input of independent detections.

    Photos of one camera within a minute are one sighting whatever the independence interval (it is 1 minute or
    more), so this adds up a burst of photos in SQL without changing the count.
    """
    rows = await db.fetch(
        _SIGHTINGS
        + """SELECT x.taxon, coalesce(s.name, $5) AS site, coalesce(x.camera_id, 0) AS camera_id,
                    date_trunc('minute', x.taken_at) AS at, max(x.individuals) AS individuals
             FROM sightings x LEFT JOIN sites s ON s.id = x.site_id
             GROUP BY 1, 2, 3, 4""",
        *scope.args(),
        NO_SITE,
    )
    return [
        Sighting(row["taxon"], row["site"], row["camera_id"], row["at"], max(int(row["individuals"]), 1))
        for row in rows
    ]


async def spans_by_site(db: asyncpg.Pool, scope: Scope) -> dict[str, list[ActiveSpan]]:
    """The deployments at the project's sites that overlap the window, as spans in the project's zone."""
    zone = ZoneInfo(await project_timezone(db, scope.project_id))
    rows = await db.fetch(
        """SELECT s.name AS site, d.camera_id, d.starts_on, d.ends_on
           FROM deployments d JOIN cameras c ON c.id = d.camera_id JOIN sites s ON s.id = d.site_id
           WHERE c.project_id = $1 AND s.project_id = $1 AND ($4::bigint IS NULL OR d.site_id = $4)
             AND d.starts_on <= $3::timestamptz::date AND (d.ends_on IS NULL OR d.ends_on >= $2::timestamptz::date)""",
        *scope.args(),
    )
    spans: dict[str, list[ActiveSpan]] = defaultdict(list)
    for row in rows:
        spans[row["site"]].append(
            ActiveSpan(row["camera_id"], _start_of(row["starts_on"], zone), _end_of(row["ends_on"], zone))
        )
    return dict(spans)


def _start_of(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone)


def _end_of(day: date | None, zone: ZoneInfo) -> datetime | None:
    return datetime.combine(day + timedelta(days=1), time.min, zone) if day else None


async def sites_by_species(db: asyncpg.Pool, scope: Scope) -> dict[str, list[str]]:
    rows = await db.fetch(
        _SIGHTINGS
        + """SELECT x.taxon, array_agg(DISTINCT s.name) AS sites
             FROM sightings x JOIN sites s ON s.id = x.site_id GROUP BY 1""",
        *scope.args(),
    )
    return {row["taxon"]: list(row["sites"]) for row in rows}


@dataclass(frozen=True, slots=True)
class Deployment:
    camera: str
    site: str
    starts_on: date
    ends_on: date | None


async def deployments(db: asyncpg.Pool, scope: Scope) -> list[Deployment]:
    """Every deployment of the project's cameras that overlaps the window, by camera then start."""
    rows = await db.fetch(
        """SELECT c.name AS camera, coalesce(s.name, $5) AS site, d.starts_on, d.ends_on
           FROM deployments d JOIN cameras c ON c.id = d.camera_id LEFT JOIN sites s ON s.id = d.site_id
           WHERE c.project_id = $1 AND ($4::bigint IS NULL OR d.site_id = $4)
             AND d.starts_on <= $3::timestamptz::date AND (d.ends_on IS NULL OR d.ends_on >= $2::timestamptz::date)
           ORDER BY c.name, d.starts_on""",
        *scope.args(),
        NO_SITE,
    )
    return [Deployment(row["camera"], row["site"], row["starts_on"], row["ends_on"]) for row in rows]


# $1..$4 as above. The verified photos of the window, each with the verification's boxes.
_VERIFIED = """
WITH verified AS (
    SELECT i.id, v.boxes, v.blank
    FROM images i JOIN verifications v ON v.image_id = i.id
    WHERE i.project_id = $1 AND i.taken_at >= $2 AND i.taken_at < $3 AND i.verified
      AND ($4::bigint IS NULL OR i.site_id = $4)
),
threshold AS (SELECT detection_threshold AS score FROM projects WHERE id = $1)
"""

# What the model said of a box: the top-1 species of its best classifier, else the detector's label.
_MODEL_SAYS = """coalesce((SELECT c.taxon FROM classifications c WHERE c.detection_id = d.id AND c.rank = 1
                           ORDER BY c.score DESC LIMIT 1), d.label::text)"""


async def confusion_per_box(db: asyncpg.Pool, scope: Scope) -> list[tuple[str, str, int]]:
    """(verified, model, boxes): a person's box against the model box it corrects; a box a person added counts as
    missed by the model, a model box a person removed (or a photo verified blank) as not there."""
    rows = await db.fetch(
        _VERIFIED
        + f""", model_boxes AS (
                SELECT d.image_id, d.index, {_MODEL_SAYS} AS said
                FROM verified x JOIN detections d ON d.image_id = x.id
                WHERE d.score >= (SELECT score FROM threshold)),
            person_boxes AS (
                SELECT x.id AS image_id, (e->>'detection')::int AS index,
                       coalesce(e->>'taxon', e->>'label') AS truth
                FROM verified x CROSS JOIN LATERAL jsonb_array_elements(x.boxes) e WHERE NOT x.blank)
            SELECT coalesce(p.truth, $5) AS truth, coalesce(m.said, $6) AS said, count(*) AS boxes
            FROM person_boxes p FULL JOIN model_boxes m ON m.image_id = p.image_id AND m.index = p.index
            GROUP BY 1, 2""",
        *scope.args(),
        REMOVED,
        MISSED,
    )
    return [(row["truth"], row["said"], int(row["boxes"])) for row in rows]


async def confusion_per_photo(db: asyncpg.Pool, scope: Scope) -> list[tuple[str, str, int]]:
    """(verified, model, photos): the photo's main species by a person (most individuals) against the model's
    species of its best box; a photo without one is blank."""
    rows = await db.fetch(
        _VERIFIED
        + f"""SELECT coalesce((SELECT coalesce(e->>'taxon', e->>'label') FROM jsonb_array_elements(x.boxes) e
                               WHERE NOT x.blank AND coalesce(e->>'taxon', e->>'label') IS NOT NULL
                               GROUP BY 1 ORDER BY sum(coalesce((e->>'count')::int, 1)) DESC, 1 LIMIT 1),
                              $5) AS truth,
                     coalesce((SELECT {_MODEL_SAYS} FROM detections d
                               WHERE d.image_id = x.id AND d.score >= (SELECT score FROM threshold)
                               ORDER BY d.score DESC LIMIT 1), $5) AS said,
                     count(*) AS photos
              FROM verified x GROUP BY 1, 2""",
        *scope.args(),
        NO_SPECIES,
    )
    return [(row["truth"], row["said"], int(row["photos"])) for row in rows]
