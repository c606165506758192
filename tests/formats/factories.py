"""Rows for the export and import tests: a project with cameras, images at every stage, boxes and species."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from typing import Any

import asyncpg

from addax.store import accounts, images

_serial = itertools.count()

Box = tuple[str, float, Sequence[float]]  # label, score, (x, y, w, h)


class Rows:
    def __init__(self, pool: asyncpg.Pool, project_id: int) -> None:
        self.pool = pool
        self.project_id = project_id

    @classmethod
    async def project(cls, pool: asyncpg.Pool, name: str) -> Rows:
        return cls(pool, await accounts.add_project(pool, name, by="test"))

    async def camera(self, name: str) -> int:
        return int(
            await self.pool.fetchval(
                "INSERT INTO cameras (project_id, identity, identity_kind, name) VALUES ($1, $2, 'serial', $3)"
                " RETURNING id",
                self.project_id,
                f"SN{next(_serial)}",
                name,
            )
        )

    async def image(
        self,
        name: str,
        *,
        camera_id: int | None = None,
        stage: str = "done",
        kind: str = "photo",
        upload_path: str = "",
        last_error: str | None = None,
        exif: dict[str, Any] | None = None,
    ) -> tuple[int, str]:
        """(id, SHA-256 in hex) of a new image row."""
        sha256 = hashlib.sha256(f"{self.project_id}/{name}/{next(_serial)}".encode()).digest()
        async with self.pool.acquire() as connection:
            image_id, _ = await images.insert(
                connection,
                images.NewImage(
                    project_id=self.project_id,
                    kind=kind,
                    sha256=sha256,
                    original_name=name,
                    source="import",
                    upload_account="import",
                    size_bytes=1000,
                    original_key=f"objects/{sha256.hex()}",
                    camera_id=camera_id,
                    stage=stage,
                    exif={"upload_path": upload_path, **(exif or {})},
                ),
            )
            await connection.execute("UPDATE images SET last_error = $2 WHERE id = $1", image_id, last_error)
        return image_id, sha256.hex()

    async def boxes(
        self,
        image_id: int,
        *boxes: Box,
        model: str = "md_v5a.0.0.onnx",
        species: dict[int, list[tuple[str, str | None, float]]] | None = None,
        classifier: str = "deepfaune-1.3",
    ) -> None:
        """Detections of ``image_id``; ``species``: box index -> (taxon, common name, score), best first."""
        for index, (label, score, bbox) in enumerate(boxes):
            detection_id = await self.pool.fetchval(
                "INSERT INTO detections (image_id, index, label, score, bbox, model) VALUES ($1, $2, $3, $4, $5, $6)"
                " RETURNING id",
                image_id,
                index,
                label,
                score,
                list(bbox),
                model,
            )
            for rank, (taxon, common_name, taxon_score) in enumerate((species or {}).get(index, []), 1):
                await self.pool.execute(
                    "INSERT INTO classifications (detection_id, taxon, common_name, score, model, rank)"
                    " VALUES ($1, $2, $3, $4, $5, $6)",
                    detection_id,
                    taxon,
                    common_name,
                    taxon_score,
                    classifier,
                    rank,
                )

    async def snapshot(self) -> list[tuple[Any, ...]]:
        """Every stage, box and classification of the project, ids included: what an import may change."""
        rows = await self.pool.fetch(
            """SELECT i.id, i.stage::text, i.updated_at, d.id AS detection, d.index, d.label::text, d.score,
                      d.bbox, d.model, d.frame_offset_s, k.id AS classification, k.taxon, k.common_name, k.score AS p,
                      k.model AS classifier, k.rank
               FROM images i LEFT JOIN detections d ON d.image_id = i.id
               LEFT JOIN classifications k ON k.detection_id = d.id
               WHERE i.project_id = $1 ORDER BY i.id, d.index, k.model, k.rank""",
            self.project_id,
        )
        return [tuple(row) for row in rows]

    async def detections(self, image_id: int) -> list[tuple[Any, ...]]:
        rows = await self.pool.fetch(
            "SELECT label::text, score, bbox, model FROM detections WHERE image_id = $1 ORDER BY index", image_id
        )
        return [
            (row["label"], round(row["score"], 4), [round(v, 4) for v in row["bbox"]], row["model"]) for row in rows
        ]

    async def stage(self, image_id: int) -> str:
        return str(await self.pool.fetchval("SELECT stage::text FROM images WHERE id = $1", image_id))
