"""The overview's figures: photos taken today, what they show, and the latest alerts of one user."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg


async def day(db: asyncpg.Pool, projects: list[int], since: datetime) -> dict[str, Any]:
    """Done photos taken since ``since``: their number, their labels and their species (most seen first).
    Read through the (project_id, taken_at) index."""
    row = await db.fetchrow(
        """WITH today AS (
               SELECT labels, taxa, stage FROM images
               WHERE project_id = ANY($1::bigint[]) AND taken_at >= $2 AND kind <> 'report')
           SELECT (SELECT count(*) FROM today) AS photos,
                  (SELECT count(*) FROM today WHERE stage NOT IN ('done', 'rejected', 'failed')) AS in_progress,
                  (SELECT coalesce(jsonb_object_agg(label, n), '{}') FROM
                       (SELECT label, count(*) AS n FROM today, unnest(labels) AS label GROUP BY label) l) AS labels,
                  (SELECT coalesce(jsonb_agg(jsonb_build_array(taxon, n) ORDER BY n DESC, taxon), '[]') FROM
                       (SELECT taxon, count(*) AS n FROM today, unnest(taxa) AS taxon GROUP BY taxon) t) AS species""",
        projects,
        since,
    )
    return {
        "photos": int(row["photos"]),
        "in_progress": int(row["in_progress"]),
        "labels": dict(row["labels"]),
        "species": [(taxon, int(n)) for taxon, n in row["species"]],
    }
