"""The scheduler's storage jobs built from the config: the hot budget (when there is a cold tier and a budget)
and retention (always: projects without rules have nothing to delete)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import asyncpg

from addax.actors.scheduler import Upkeep
from addax.config import Config
from addax.domain.sizes import GB
from addax.store.object_tiers import TieredObjectStore
from addax.store.objects import ObjectStore
from addax.store.retention import RetentionReport, apply_retention
from addax.store.tiering import enforce_hot_budget


def storage_upkeep(config: Config, *, pool: asyncpg.Pool, objects: ObjectStore) -> Upkeep:
    hot_budget = None
    if isinstance(objects, TieredObjectStore) and config.storage.hot_budget_gb > 0:
        hot_budget = partial(
            enforce_hot_budget,
            pool,
            objects,
            int(config.storage.hot_budget_gb * GB),
            config.data_path / "spool" / "tiering",
        )

    async def retention(now: datetime) -> RetentionReport:
        return await apply_retention(pool, objects, now, dry_run=False)

    return Upkeep(hot_budget=hot_budget, retention=retention)
