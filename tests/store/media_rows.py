"""Photos with real objects behind them, for the tiering and retention tests: rows and bytes that agree."""

from __future__ import annotations

import hashlib
import itertools
import os
from datetime import datetime
from typing import Any

import asyncpg

from addax.store import accounts, images
from addax.store.objects import ObjectStore, original_key

_serial = itertools.count()


class Media:
    def __init__(self, pool: asyncpg.Pool, objects: ObjectStore, project_id: int) -> None:
        self.pool, self.objects, self.project_id = pool, objects, project_id

    @classmethod
    async def project(cls, pool: asyncpg.Pool, objects: ObjectStore, name: str) -> Media:
        return cls(pool, objects, await accounts.add_project(pool, name, by="test"))

    async def photo(
        self,
        size: int = 1000,
        *,
        stage: str = "done",
        labels: tuple[str, ...] = (),
        received_at: datetime | None = None,
        derivatives: bool = True,
        keyframes: int = 0,
        **columns: Any,
    ) -> tuple[int, dict[str, str]]:
        """(id, its object keys by role) of a new photo whose original holds ``size`` random bytes."""
        data = os.urandom(size)
        sha = hashlib.sha256(data).digest()
        keys = {"original": original_key(self.project_id, sha.hex(), "jpg")}
        await self.objects.put_bytes(keys["original"], data)
        stills = []
        for number in range(keyframes):
            keys[f"keyframe{number}"] = key = (
                f"keyframes/{self.project_id}/{sha.hex()[:2]}/{sha.hex()}/{number:09d}.jpg"
            )
            await self.objects.put_bytes(key, os.urandom(50))
            stills.append({"offset_s": number * 5.0, "key": key})
        async with self.pool.acquire() as connection:
            image_id, _ = await images.insert(
                connection,
                images.NewImage(
                    project_id=self.project_id,
                    kind="video" if keyframes else "photo",
                    sha256=sha,
                    original_name=f"IMG_{next(_serial):04d}.JPG",
                    source="import",
                    upload_account="test",
                    size_bytes=size,
                    original_key=keys["original"],
                    stage=stage,
                    exif={"video": {"keyframes": stills}} if keyframes else {},
                ),
            )
            if derivatives:
                keys["thumbnail"] = f"derived/{self.project_id}/{image_id % 1000:03d}/{image_id}/thumbnail.jpg"
                keys["annotated"] = f"derived/{self.project_id}/{image_id % 1000:03d}/{image_id}/annotated.jpg"
                await self.objects.put_bytes(keys["thumbnail"], b"thumb")
                await self.objects.put_bytes(keys["annotated"], b"annotated")
            await connection.execute(
                """UPDATE images SET labels = $2, received_at = coalesce($3, received_at),
                       thumbnail_key = $4, annotated_key = $5 WHERE id = $1""",
                image_id,
                list(labels),
                received_at,
                keys.get("thumbnail"),
                keys.get("annotated"),
            )
            for column, value in columns.items():  # test-chosen column names only
                await connection.execute(f"UPDATE images SET {column} = $2 WHERE id = $1", image_id, value)
        return image_id, keys
