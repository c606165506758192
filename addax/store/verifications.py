"""Human verifications of photos: saved with the photo's summary (labels, taxa) in one transaction, audited.

The API (``PATCH|DELETE /api/images/{id}/verification``) and the dashboard's image page both go through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from addax.domain.privacy import uncovered
from addax.domain.verification import ModelBox, Verification
from addax.store import audit
from addax.store.accounts import User


@dataclass(frozen=True, slots=True)
class Subject:
    """What a verification of one photo is checked against: its project, threshold and model boxes."""

    image_id: int
    project_id: int
    threshold: float
    boxes: tuple[ModelBox, ...]


async def subject(db: asyncpg.Pool | asyncpg.Connection, image_id: int) -> Subject | None:
    row = await db.fetchrow(
        """SELECT i.project_id, p.detection_threshold FROM images i JOIN projects p ON p.id = i.project_id
           WHERE i.id = $1""",
        image_id,
    )
    if row is None:
        return None
    # the top-1 of the first model that classified each box (models in name order, as browse.image lists them)
    boxes = await db.fetch(
        """SELECT DISTINCT ON (d.index) d.index, d.label::text, d.score, d.bbox, c.taxon, c.common_name
           FROM detections d LEFT JOIN classifications c ON c.detection_id = d.id AND c.rank = 1
           WHERE d.image_id = $1 ORDER BY d.index, c.model""",
        image_id,
    )
    return Subject(
        image_id=image_id,
        project_id=int(row["project_id"]),
        threshold=float(row["detection_threshold"]),
        boxes=tuple(
            ModelBox(
                index=int(box["index"]),
                label=box["label"],
                score=float(box["score"]),
                bbox=tuple(float(v) for v in box["bbox"]),  # type: ignore[arg-type]
                taxon=box["taxon"],
                common_name=box["common_name"],
            )
            for box in boxes
        ),
    )


async def save(pool: asyncpg.Pool, image_id: int, verification: Verification, *, by: User) -> dict[str, Any]:
    """Store what ``by`` says the photo shows; it becomes the photo's labels and taxa. Returns ``get``'s dict."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            """INSERT INTO verifications (image_id, boxes, blank, individuals, notes, verified_by, verified_at)
               VALUES ($1, $2, $3, $4, $5, $6, now())
               ON CONFLICT (image_id) DO UPDATE SET boxes = EXCLUDED.boxes, blank = EXCLUDED.blank,
                   individuals = EXCLUDED.individuals, notes = EXCLUDED.notes,
                   verified_by = EXCLUDED.verified_by, verified_at = EXCLUDED.verified_at""",
            image_id,
            verification.boxes_json(),
            verification.blank,
            verification.individuals,
            verification.notes,
            by.id,
        )
        model = await connection.fetch("SELECT index, label::text, score FROM detections WHERE image_id = $1", image_id)
        missed = uncovered(
            ((box.detection, box.label) for box in verification.boxes),
            {row["index"]: (row["label"], row["score"]) for row in model},
        )
        await connection.execute(
            """UPDATE images SET verified = true, labels = $2, taxa = $3, updated_at = now(),
                   people_unblurred = people_unblurred OR $4
               WHERE id = $1""",
            image_id,
            verification.labels,
            verification.taxa,
            missed,
        )
        await audit.record(
            connection,
            actor=by.email,
            action="image.verify",
            target=f"image:{image_id}",
            labels=verification.labels,
            taxa=verification.taxa,
            blank=verification.blank,
        )
        found = await get(connection, image_id)
    assert found is not None
    return found


async def clear(pool: asyncpg.Pool, image_id: int, *, by: User) -> bool:
    """Forget the verification: the model's labels and taxa come back. False when there was none."""
    async with pool.acquire() as connection, connection.transaction():
        removed = await connection.fetchval(
            "DELETE FROM verifications WHERE image_id = $1 RETURNING image_id", image_id
        )
        # stage = stage fires summarise_image (migration 008), which recomputes a done photo's summary
        await connection.execute(
            """UPDATE images SET verified = false, stage = stage, labels = '{}', taxa = '{}', updated_at = now()
               WHERE id = $1""",
            image_id,
        )
        await audit.record(connection, actor=by.email, action="image.unverify", target=f"image:{image_id}")
    return removed is not None


async def get(db: asyncpg.Pool | asyncpg.Connection, image_id: int) -> dict[str, Any] | None:
    """The verification as the API shows it, with who made it; None when the photo has none."""
    row = await db.fetchrow(
        """SELECT v.boxes, v.blank, v.individuals, v.notes, v.verified_by, u.email AS verified_by_email,
                  v.verified_at
           FROM verifications v LEFT JOIN users u ON u.id = v.verified_by WHERE v.image_id = $1""",
        image_id,
    )
    return dict(row) if row is not None else None


async def known_species(db: asyncpg.Pool, project_id: int, *, recent: int = 5000) -> list[tuple[str, str | None]]:
    """(taxon, common name) seen in a project: the models' among its latest photos, and every verification's.

    Bounded to the latest ``recent`` photos (by the project's id index) so a big project is not scanned whole.
    """
    rows = await db.fetch(
        """WITH latest AS (SELECT id FROM images WHERE project_id = $1 ORDER BY id DESC LIMIT $2)
           SELECT c.taxon, max(c.common_name) AS common_name
             FROM latest l JOIN detections d ON d.image_id = l.id JOIN classifications c ON c.detection_id = d.id
            GROUP BY c.taxon
           UNION
           SELECT box->>'taxon', max(box->>'common_name')
             FROM latest l JOIN verifications v ON v.image_id = l.id, jsonb_array_elements(v.boxes) box
            WHERE box->>'taxon' IS NOT NULL GROUP BY box->>'taxon'""",
        project_id,
        recent,
    )
    names: dict[str, str | None] = {}
    for row in rows:
        names[row["taxon"]] = names.get(row["taxon"]) or row["common_name"]
    return sorted(names.items(), key=lambda item: (item[1] or item[0]).lower())
