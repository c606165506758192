"""Retention applied: the photos a project's rules let go are deleted, row first, then their objects; audited.

The rows go in one transaction per batch, with an audit entry each (what, of which project, why); their
detections, classifications, verifications and tags go with them (ON DELETE CASCADE). The objects (original,
thumbnail, annotated copy, video keyframes) are deleted only after that commit: a crash in between leaves at
worst an object nobody points at, never a row pointing at nothing. Each photo is decided again under its row
lock, so a verification saved while the job runs (say, "that is an animal") still saves the photo.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from addax.domain.retention import Decision, PhotoFacts, RetentionError, RetentionRules, decide
from addax.store import audit
from addax.store.objects import ObjectStore, ObjectStoreError

log = logging.getLogger("addax.retention")

BATCH = 200
EXAMPLES = 100  # candidates a report keeps to show (the count covers them all)


@dataclass(frozen=True, slots=True)
class Candidate:
    project_id: int
    project: str
    image_id: int
    original_key: str | None
    keys: tuple[str, ...]  # every object of the photo: original, thumbnail, annotated copy, keyframes
    taken_at: datetime | None
    received_at: datetime
    size_bytes: int
    why: str


@dataclass(slots=True)
class RetentionReport:
    dry_run: bool
    images: int = 0
    bytes: int = 0
    objects_left: list[str] = field(default_factory=list)  # objects whose delete failed: orphans to sweep
    examples: list[Candidate] = field(default_factory=list)

    def add(self, candidate: Candidate) -> None:
        self.images += 1
        self.bytes += candidate.size_bytes
        if len(self.examples) < EXAMPLES:
            self.examples.append(candidate)


_COLUMNS = {"blank_days": "retention_blank_days", "person_days": "retention_person_days",
            "vehicle_days": "retention_vehicle_days"}  # fmt: skip


async def rules_of(db: asyncpg.Pool | asyncpg.Connection, project: str) -> tuple[int, RetentionRules]:
    row = await db.fetchrow(
        "SELECT id, retention_blank_days, retention_person_days, retention_vehicle_days FROM projects WHERE name = $1",
        project,
    )
    if row is None:
        raise RetentionError(f"no project named {project!r}")
    return int(row["id"]), _rules(row)


async def set_rules(pool: asyncpg.Pool, project: str, *, by: str, **changes: int | None) -> RetentionRules:
    """Change some of ``blank_days``, ``person_days``, ``vehicle_days`` (None: keep forever); audited."""
    unknown = set(changes) - set(_COLUMNS)
    if unknown or not changes:
        raise RetentionError(f"retention settings are {', '.join(_COLUMNS)}; got {', '.join(changes) or 'none'}")
    async with pool.acquire() as connection, connection.transaction():
        project_id, rules = await rules_of(connection, project)
        new = RetentionRules(**({name: getattr(rules, name) for name in _COLUMNS} | changes))  # validates
        await connection.execute(
            "UPDATE projects SET retention_blank_days = $2, retention_person_days = $3, retention_vehicle_days = $4"
            " WHERE id = $1",
            project_id,
            new.blank_days,
            new.person_days,
            new.vehicle_days,
        )
        await audit.record(
            connection, actor=by, action="project.retention", target=project, **{k: v for k, v in changes.items()}
        )
    return new


async def retention_candidates(
    pool: asyncpg.Pool, project_id: int | None, now: datetime, *, batch: int = BATCH
) -> AsyncIterator[Candidate]:
    """What the rules would delete now, project by project, oldest received first (a page at a time)."""
    projects = await pool.fetch(
        """SELECT id, name, retention_blank_days, retention_person_days, retention_vehicle_days FROM projects
           WHERE ($1::bigint IS NULL OR id = $1)
             AND num_nonnulls(retention_blank_days, retention_person_days, retention_vehicle_days) > 0
           ORDER BY id""",
        project_id,
    )
    for project in projects:
        rules = _rules(project)
        assert rules.shortest_days is not None
        before = now - timedelta(days=rules.shortest_days)
        after: tuple[datetime, int] | None = None
        while True:
            rows = await pool.fetch(
                """SELECT id, original_key, thumbnail_key, annotated_key, exif, taken_at, received_at, labels,
                          stage::text AS stage, blur_all, size_bytes
                   FROM images
                   WHERE project_id = $1 AND stage = 'done' AND NOT ('animal' = ANY (labels))
                     AND received_at < $2 AND ($3::timestamptz IS NULL OR (received_at, id) > ($3, $4))
                   ORDER BY received_at, id LIMIT $5""",
                project["id"],
                before,
                after[0] if after else None,
                after[1] if after else 0,
                batch,
            )
            for row in rows:
                verdict = decide(rules, _facts(row), now)
                if verdict.delete:
                    yield _candidate(project, row, verdict)
            if len(rows) < batch:
                break
            after = (rows[-1]["received_at"], rows[-1]["id"])


async def apply_retention(
    pool: asyncpg.Pool,
    objects: ObjectStore,
    now: datetime,
    *,
    dry_run: bool,
    project_id: int | None = None,
    by: str = "system",
    batch: int = BATCH,
) -> RetentionReport:
    """Delete what the rules let go (or, with ``dry_run``, only count and show it)."""
    report = RetentionReport(dry_run=dry_run)
    pending: list[Candidate] = []
    async for candidate in retention_candidates(pool, project_id, now, batch=batch):
        if dry_run:
            report.add(candidate)
            continue
        pending.append(candidate)
        if len(pending) >= batch:
            await _delete(pool, objects, pending, now, by, report)
            pending = []
    if pending:
        await _delete(pool, objects, pending, now, by, report)
    if not dry_run and report.images:
        log.info("retention deleted photos", extra={"images": report.images, "bytes": report.bytes})
    return report


async def _delete(
    pool: asyncpg.Pool, objects: ObjectStore, batch: list[Candidate], now: datetime, by: str, report: RetentionReport
) -> None:
    by_id = {candidate.image_id: candidate for candidate in batch}
    gone: list[Candidate] = []
    async with pool.acquire() as connection, connection.transaction():
        rows = await connection.fetch(
            """SELECT i.id, i.labels, i.stage::text AS stage, i.blur_all, i.received_at, i.event_id,
                      p.retention_blank_days, p.retention_person_days, p.retention_vehicle_days
               FROM images i JOIN projects p ON p.id = i.project_id
               WHERE i.id = ANY($1::bigint[]) ORDER BY i.id FOR UPDATE OF i SKIP LOCKED""",
            list(by_id),
        )
        # Decided again on the locked row: a verification or a rule change since the listing wins.
        gone = [by_id[row["id"]] for row in rows if decide(_rules(row), _facts(row), now).delete]
        if not gone:
            return
        ids = [candidate.image_id for candidate in gone]
        events = {row["event_id"] for row in rows if row["id"] in set(ids) and row["event_id"] is not None}
        await connection.execute("DELETE FROM images WHERE id = ANY($1::bigint[])", ids)
        await _tidy_events(connection, list(events))
        for candidate in gone:
            await audit.record(
                connection,
                actor=by,
                action="retention.delete",
                target=f"image:{candidate.image_id}",
                project=candidate.project,
                key=candidate.original_key,
                taken_at=candidate.taken_at.isoformat() if candidate.taken_at else None,
                why=candidate.why,
            )
    # Committed: now the objects. One that will not go is an orphan (logged), never a dangling row.
    for candidate in gone:
        report.add(candidate)
        for key in candidate.keys:
            try:
                await objects.delete(key)
            except ObjectStoreError as error:
                log.warning("a deleted photo's object stays behind", extra={"key": key, "error": str(error)})
                report.objects_left.append(key)


async def _tidy_events(connection: asyncpg.Connection, event_ids: list[int]) -> None:
    """Events lose the deleted photos: an emptied one goes, the others count what is left."""
    if not event_ids:
        return
    await connection.execute(
        "DELETE FROM events e WHERE e.id = ANY($1::bigint[])"
        " AND NOT EXISTS (SELECT 1 FROM images i WHERE i.event_id = e.id)",
        event_ids,
    )
    await connection.execute(
        "UPDATE events e SET image_count = (SELECT count(*) FROM images i WHERE i.event_id = e.id), updated_at = now()"
        " WHERE e.id = ANY($1::bigint[])",
        event_ids,
    )


def _rules(row: asyncpg.Record) -> RetentionRules:
    return RetentionRules(
        blank_days=row["retention_blank_days"],
        person_days=row["retention_person_days"],
        vehicle_days=row["retention_vehicle_days"],
    )


def _facts(row: asyncpg.Record) -> PhotoFacts:
    return PhotoFacts(
        labels=frozenset(row["labels"]), received_at=row["received_at"], stage=row["stage"], blur_all=row["blur_all"]
    )


def _candidate(project: asyncpg.Record, row: asyncpg.Record, verdict: Decision) -> Candidate:
    exif: dict[str, Any] = row["exif"] if isinstance(row["exif"], dict) else {}
    stills = exif.get("video", {}).get("keyframes", []) if isinstance(exif.get("video"), dict) else []
    keys = [row["original_key"], row["thumbnail_key"], row["annotated_key"]]
    # Only this project's keyframes: exif is data (an import brings its own), and a key it names elsewhere (another
    # project's original) must never be deleted with this photo.
    own = f"keyframes/{int(project['id'])}/"
    keys += [still["key"] for still in stills if isinstance(still, dict) and str(still.get("key")).startswith(own)]
    return Candidate(
        project_id=int(project["id"]),
        project=str(project["name"]),
        image_id=int(row["id"]),
        original_key=row["original_key"],
        keys=tuple(key for key in keys if isinstance(key, str) and key),
        taken_at=row["taken_at"],
        received_at=row["received_at"],
        size_bytes=int(row["size_bytes"]),
        why=verdict.why,
    )
