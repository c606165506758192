"""A hot and a cold object store behind the one interface: new objects are hot, old originals are demoted.

Writes go to the hot tier. Reads try hot, then cold, so a reader never needs to know where an object lives and
a demotion running at the same time cannot make it miss: ``demote`` copies to cold (verified) *before* it
deletes the hot copy, so an object is always in at least one tier.

    demote(key):  hot ──copy_object (SHA-256 checked)──► cold ──► delete hot
                  a crash after the copy leaves it in both tiers; the next demote finishes the job
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from pathlib import Path
from typing import Literal

from addax.store.objects import CHUNK, ObjectMissing, ObjectStore, StoredObject, copy_object

Tier = Literal["hot", "cold"]


class TieredObjectStore:
    def __init__(self, *, hot: ObjectStore, cold: ObjectStore) -> None:
        self.hot, self.cold = hot, cold
        self.location = f"{hot.location} + {cold.location}"

    async def put_file(self, key: str, source: Path) -> None:
        await self.hot.put_file(key, source)

    async def put_bytes(self, key: str, data: bytes) -> None:
        await self.hot.put_bytes(key, data)

    async def read(self, key: str) -> bytes:
        try:
            return await self.hot.read(key)
        except ObjectMissing:
            return await self.cold.read(key)

    async def stream(
        self, key: str, chunk_size: int = CHUNK, *, on_size: Callable[[int], None] | None = None
    ) -> AsyncGenerator[bytes, None]:
        # aclosing: a reader that stops early closes the tier's file or connection at once, not at collection
        started = False
        try:
            async with aclosing(self.hot.stream(key, chunk_size, on_size=on_size)) as chunks:
                async for chunk in chunks:
                    started = True
                    yield chunk
            return
        except ObjectMissing:
            if started:  # vanished half-way: not a demotion (that deletes only after the copy); say so
                raise
        async with aclosing(self.cold.stream(key, chunk_size, on_size=on_size)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def size(self, key: str) -> int:
        try:
            return await self.hot.size(key)
        except ObjectMissing:
            return await self.cold.size(key)

    async def exists(self, key: str) -> bool:
        return await self.hot.exists(key) or await self.cold.exists(key)

    async def delete(self, key: str) -> None:
        # Cold first: if this fails half-way, the object still reads from hot and a retry deletes it.
        await self.cold.delete(key)
        await self.hot.delete(key)

    async def move(self, old_key: str, new_key: str) -> None:
        """Move it in the tier it is in (in both, when a demotion was interrupted)."""
        moved = False
        for tier in (self.hot, self.cold):
            try:
                await tier.move(old_key, new_key)
                moved = True
            except ObjectMissing:
                pass
        if not moved:
            raise ObjectMissing(old_key)

    async def list(self, prefix: str = "") -> AsyncGenerator[StoredObject, None]:
        """Both tiers merged in key order; a key in both (an interrupted demotion) comes once, with hot's size."""
        async with aclosing(self.hot.list(prefix)) as hot, aclosing(self.cold.list(prefix)) as cold:
            next_hot, next_cold = await anext(hot, None), await anext(cold, None)
            while next_hot is not None or next_cold is not None:
                if next_cold is None or (next_hot is not None and next_hot.key <= next_cold.key):
                    assert next_hot is not None
                    if next_cold is not None and next_cold.key == next_hot.key:
                        next_cold = await anext(cold, None)
                    yield next_hot
                    next_hot = await anext(hot, None)
                else:
                    yield next_cold
                    next_cold = await anext(cold, None)

    async def demote(self, key: str, spool_dir: Path) -> None:
        """Move the object from hot to cold. Already cold is fine (idempotent); in neither tier is ``ObjectMissing``."""
        if not await self.hot.exists(key):
            if await self.cold.exists(key):
                return
            raise ObjectMissing(f"{key}: in neither tier ({self.location})")
        # Copied again even when a cold copy is there from an interrupted run: it may be torn, and the copy is
        # checked against the hot bytes before those go.
        await copy_object(self.hot, self.cold, key, spool_dir=spool_dir)
        await self.hot.delete(key)

    async def tier_of(self, key: str) -> Tier | None:
        """Where a read finds it: hot, cold or nowhere."""
        if await self.hot.exists(key):
            return "hot"
        if await self.cold.exists(key):
            return "cold"
        return None
