"""The overview's figures: photos taken today, what they show, and the latest alerts of one user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg


async def day(db: asyncpg.Pool, since: Sequence[tuple[int, datetime]]) -> dict[str, Any]:
    """Photos taken since each project's ``since`` ((project id, its midnight) pairs: projects lie in different
    zones): their number, how many are still in the pipeline, their labels and their species (most seen first).
    Read through the (project_id, taken_at) index, one range per project."""
    row = await db.fetchrow(
        """WITH today AS (
               SELECT i.labels, i.taxa, i.stage
               FROM unnest($1::bigint[], $2::timestamptz[]) AS s(project_id, since)
               JOIN images i ON i.project_id = s.project_id AND i.taken_at >= s.since
               WHERE i.kind <> 'report')
           SELECT (SELECT count(*) FROM today) AS photos,
                  (SELECT count(*) FROM today WHERE stage NOT IN ('done', 'rejected', 'failed')) AS in_progress,
                  (SELECT coalesce(jsonb_object_agg(label, n), '{}') FROM
                       (SELECT label, count(*) AS n FROM today, unnest(labels) AS label GROUP BY label) l) AS labels,
                  (SELECT coalesce(jsonb_agg(jsonb_build_array(taxon, n) ORDER BY n DESC, taxon), '[]') FROM
                       (SELECT taxon, count(*) AS n FROM today, unnest(taxa) AS taxon GROUP BY taxon) t) AS species""",
        [project for project, _ in since],
        [moment for _, moment in since],
    )
    return {
        "photos": int(row["photos"]),
        "in_progress": int(row["in_progress"]),
        "labels": dict(row["labels"]),
        "species": [(taxon, int(n)) for taxon, n in row["species"]],
    }
