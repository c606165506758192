"""What the models said of an image: boxes and their top-5 species, replaced whole so a redo never doubles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class NewBox:
    label: str  # animal | person | vehicle
    score: float
    bbox: tuple[float, float, float, float]
    frame_offset_s: float | None = None  # a video keyframe's time


@dataclass(frozen=True, slots=True)
class NewGuess:
    taxon: str
    common_name: str | None
    score: float


@dataclass(frozen=True, slots=True)
class StoredBox:
    id: int
    index: int
    label: str
    score: float
    bbox: tuple[float, float, float, float]
    frame_offset_s: float | None


async def replace_boxes(
    connection: asyncpg.Connection, image_id: int, boxes: Sequence[NewBox], model: str
) -> list[int]:
    """The image's boxes are exactly ``boxes`` (best first), whatever was there before (their species go too);
    returns the new detection ids in the order of ``boxes``.

    A verification's boxes that named an old model box are kept where they were drawn (its bbox, no model
    index): the new boxes' indices mean other boxes, and the person's answer must not move onto them."""
    await _detach_verification(connection, image_id)
    await connection.execute("DELETE FROM detections WHERE image_id = $1", image_id)
    if not boxes:
        return []
    await connection.executemany(
        """INSERT INTO detections (image_id, index, label, score, bbox, model, frame_offset_s)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        [
            (image_id, index, box.label, box.score, list(box.bbox), model, box.frame_offset_s)
            for index, box in enumerate(boxes)
        ],
    )
    rows = await connection.fetch("SELECT id FROM detections WHERE image_id = $1 ORDER BY index", image_id)
    return [row["id"] for row in rows]


async def _detach_verification(connection: asyncpg.Connection, image_id: int) -> None:
    await connection.execute(
        """UPDATE verifications v
              SET boxes = (
                  SELECT jsonb_agg(
                             CASE WHEN jsonb_typeof(b.box -> 'detection') = 'number'
                                  THEN b.box || jsonb_build_object(
                                           'detection', NULL,
                                           'bbox', coalesce(nullif(b.box -> 'bbox', 'null'::jsonb), to_jsonb(d.bbox)))
                                  ELSE b.box END
                             ORDER BY b.position)
                    FROM jsonb_array_elements(v.boxes) WITH ORDINALITY AS b(box, position)
                    LEFT JOIN detections d
                           ON d.image_id = v.image_id AND d.index = (b.box ->> 'detection')::int)
            WHERE v.image_id = $1 AND jsonb_path_exists(v.boxes, '$[*] ? (@.detection != null)')""",
        image_id,
    )


async def boxes_of(db: asyncpg.Connection | asyncpg.Pool, image_id: int) -> list[StoredBox]:
    rows = await db.fetch(
        """SELECT id, index, label::text, score, bbox, frame_offset_s FROM detections
           WHERE image_id = $1 ORDER BY index""",
        image_id,
    )
    return [
        StoredBox(
            id=row["id"],
            index=row["index"],
            label=row["label"],
            score=float(row["score"]),
            bbox=tuple(float(v) for v in row["bbox"]),  # type: ignore[arg-type]
            frame_offset_s=row["frame_offset_s"],
        )
        for row in rows
    ]


async def replace_guesses(
    connection: asyncpg.Connection, image_id: int, guesses: Mapping[int, Sequence[NewGuess]], model: str
) -> None:
    """Each box's ranked species (``guesses`` by detection id); the image's earlier ones by ``model`` go."""
    await connection.execute(
        """DELETE FROM classifications c USING detections d
           WHERE d.id = c.detection_id AND d.image_id = $1 AND c.model = $2""",
        image_id,
        model,
    )
    rows = [
        (detection_id, rank, guess.taxon, guess.common_name, guess.score, model)
        for detection_id, ranked in guesses.items()
        for rank, guess in enumerate(ranked[:5], start=1)
    ]
    if rows:
        await connection.executemany(
            """INSERT INTO classifications (detection_id, rank, taxon, common_name, score, model)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            rows,
        )


async def species_of(db: asyncpg.Connection | asyncpg.Pool, image_id: int) -> dict[int, tuple[str, str | None, float]]:
    """Each box's accepted species (rank 1) by detection index."""
    rows = await db.fetch(
        """SELECT d.index, c.taxon, c.common_name, c.score FROM classifications c
           JOIN detections d ON d.id = c.detection_id
           WHERE d.image_id = $1 AND c.rank = 1 ORDER BY d.index, c.id""",
        image_id,
    )
    return {row["index"]: (row["taxon"], row["common_name"], float(row["score"])) for row in rows}
