"""The plans of the gallery's queries: the store's own functions (addax/store/gallery.py) run against a stand-in
for the pool that prepares each statement and runs EXPLAIN (ANALYZE, BUFFERS) EXECUTE of it instead, under a
custom plan (the values known, as for the first five runs of a prepared statement) and a generic one (what
PostgreSQL may switch to afterwards for the service's cached statements, with $n unknown).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

MODES = {"custom": "force_custom_plan", "generic": "force_generic_plan"}


@dataclass(frozen=True, slots=True)
class Plan:
    case: str
    mode: str
    text: str

    @property
    def scans_images(self) -> bool:
        return "Seq Scan on images" in self.text

    @property
    def ms(self) -> float:
        found = re.search(r"Execution Time: ([\d.]+) ms", self.text)
        return float(found.group(1)) if found else float("nan")

    @property
    def buffers(self) -> int:
        """Shared buffers (hit + read) of the whole plan: the top node's count includes its children's."""
        found = re.search(r"Buffers: shared ((?:\w+=\d+ ?)+)", self.text)
        return sum(int(n) for n in re.findall(r"=(\d+)", found.group(1))) if found else 0

    @property
    def removed(self) -> int:
        """Rows read and thrown away by a filter on the way (a walk that is long for what it returns)."""
        return sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", self.text))


@dataclass
class Explaining:
    """Stands in for the pool: each fetch is explained (custom and generic) and answers no rows."""

    connection: asyncpg.Connection
    case: str
    plans: list[Plan] = field(default_factory=list)
    prepared: dict[str, str] = field(default_factory=dict)
    settings: list[str] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Explaining]:
        yield self  # the store's "one connection, one transaction" is this stand-in too

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        yield

    async def execute(self, sql: str, *args: Any) -> str:
        """Settings such as the gallery's ``SET LOCAL plan_cache_mode``: both plans are explained anyway."""
        self.settings.append(sql)
        return ""

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        await self._explain(sql, args)
        return []

    async def fetchrow(self, sql: str, *args: Any) -> None:
        await self._explain(sql, args)
        return None

    async def fetchval(self, sql: str, *args: Any) -> None:
        await self._explain(sql, args)
        return None

    async def _explain(self, sql: str, args: tuple[Any, ...]) -> None:
        if sql not in self.prepared:
            self.prepared[sql] = name = f"bench_{len(self.prepared)}"
            await self.connection.execute(f"PREPARE {name} AS {sql}")
        call = f"EXECUTE {self.prepared[sql]}" + (f"({', '.join(map(literal, args))})" if args else "")
        for mode, setting in MODES.items():
            await self.connection.execute(f"SET plan_cache_mode = {setting}")
            rows = await self.connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {call}")
            self.plans.append(Plan(self.case, mode, "\n".join(row[0] for row in rows)))
        await self.connection.execute("RESET plan_cache_mode")


def literal(value: Any) -> str:
    """An SQL literal for EXECUTE's arguments (their types come from the prepared statement)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return f"'{value.isoformat()}'"
    if isinstance(value, list | tuple):
        return "'{" + ",".join(str(item).replace('"', "") for item in value) + "}'"
    return "'" + str(value).replace("'", "''") + "'"


async def explain(dsn: str, cases: dict[str, Callable[[Any], Awaitable[Any]]]) -> list[Plan]:
    """Each case is called with its own Explaining stand-in; every query it runs is explained twice."""
    connection = await asyncpg.connect(dsn, statement_cache_size=0)
    plans: list[Plan] = []
    try:
        for case, call in cases.items():
            stand_in = Explaining(connection, case)
            await call(stand_in)
            plans += stand_in.plans
            for name in stand_in.prepared.values():
                await connection.execute(f"DEALLOCATE {name}")
    finally:
        await connection.close()
    return plans
