"""Detections in and out of a project in MegaDetector's batch-output terms (the format: domain/megadetector.py).

Export reads one snapshot (a read-only repeatable-read transaction) through a server-side cursor, so a
project of any size streams without being held in memory. Import writes one transaction per image: its
boxes are replaced only when they differ from the file's, so loading a file twice changes nothing.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from addax.domain.megadetector import IMPORTED_CLASSIFIER, Box, ExportImage, ImageResult, ImportedBox, export_path
from addax.domain.results import (
    TAKES_RESULTS,
    Candidate,
    LoadReport,
    MatchKind,
    StoredBox,
    lookup_names,
    match,
    same_boxes,
    same_classifications,
)
from addax.store import detections

EXPORTED_STAGES = ("detected", "classified", "done", "failed")
"""Images past detection; 'failed' ones without boxes become a ``failure`` entry."""

# The camera folder of domain.megadetector.camera_folder, in SQL, so that duplicates are numbered per path.
_FOLDER = """CASE WHEN btrim(c.name, ' ') IN ('.', '..') THEN translate(btrim(c.name, ' '), '.', '_')
                  ELSE NULLIF(translate(btrim(c.name, ' '), '/\\', '__'), '') END"""

_EXPORT_IMAGES = f"""
SELECT i.kind::text AS kind, i.stage::text AS stage, i.last_error, encode(i.sha256, 'hex') AS sha256,
       i.original_name, c.name AS camera,
       row_number() OVER (PARTITION BY {_FOLDER}, translate(i.original_name, '/\\', '__') ORDER BY i.id) AS nth,
       CASE WHEN jsonb_typeof(i.exif -> 'video' -> 'frame_rate') = 'number'
            THEN (i.exif -> 'video' ->> 'frame_rate')::float8 END AS frame_rate,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'label', d.label, 'score', d.score, 'bbox', d.bbox, 'offset', d.frame_offset_s,
                    'classes', coalesce((SELECT jsonb_agg(jsonb_build_array(k.taxon, k.score)
                                                          ORDER BY k.score DESC, k.rank)
                                         FROM classifications k WHERE k.detection_id = d.id AND k.model = $2), '[]'))
                    ORDER BY d.index)
                 FROM detections d WHERE d.image_id = i.id), '[]') AS boxes
FROM images i LEFT JOIN cameras c ON c.id = i.camera_id
WHERE i.project_id = $1 AND i.kind IN ('photo', 'video') AND i.stage::text = ANY($3::text[])
ORDER BY {_FOLDER} NULLS FIRST, translate(i.original_name, '/\\', '__'), i.id
"""


@dataclass(frozen=True, slots=True)
class ExportFacts:
    """What the header of an export says, and what it leaves out."""

    detector: str | None  # the model behind most boxes
    classifier: str | None  # the model behind most classifications; only its classifications are exported
    taxa: list[tuple[str, str | None]]  # (taxon, common name) of that classifier, by taxon
    completed_at: datetime | None
    threshold: float
    pending: int  # photos and videos not through detection yet: left out


@contextlib.asynccontextmanager
async def export_images(
    pool: asyncpg.Pool, project_id: int, *, prefetch: int = 500
) -> AsyncIterator[tuple[ExportFacts, AsyncIterator[ExportImage]]]:
    """The header facts and the images of one snapshot of the project, by path; iterate inside the block."""
    async with pool.acquire() as connection, connection.transaction(isolation="repeatable_read", readonly=True):
        facts = await _facts(connection, project_id)
        yield facts, _images(connection, project_id, facts.classifier, prefetch)


async def _facts(connection: asyncpg.Connection, project_id: int) -> ExportFacts:
    detector = await connection.fetchval(
        """SELECT d.model FROM detections d JOIN images i ON i.id = d.image_id WHERE i.project_id = $1
           GROUP BY d.model ORDER BY count(*) DESC, d.model LIMIT 1""",
        project_id,
    )
    classifier = await connection.fetchval(
        """SELECT k.model FROM classifications k JOIN detections d ON d.id = k.detection_id
           JOIN images i ON i.id = d.image_id WHERE i.project_id = $1 AND k.rank = 1
           GROUP BY k.model ORDER BY count(*) DESC, k.model LIMIT 1""",
        project_id,
    )
    taxa = await connection.fetch(
        """SELECT k.taxon, max(k.common_name) AS common_name FROM classifications k
           JOIN detections d ON d.id = k.detection_id JOIN images i ON i.id = d.image_id
           WHERE i.project_id = $1 AND k.model = $2 GROUP BY k.taxon ORDER BY k.taxon""",
        project_id,
        classifier,
    )
    row = await connection.fetchrow(
        """SELECT p.detection_threshold,
                  (SELECT max(coalesce(i.processed_at, i.updated_at)) FROM images i
                   WHERE i.project_id = p.id AND i.stage::text = ANY($2::text[])) AS completed_at,
                  (SELECT count(*) FROM images i WHERE i.project_id = p.id AND i.kind IN ('photo', 'video')
                   AND i.stage IN ('received', 'stored')) AS pending
           FROM projects p WHERE p.id = $1""",
        project_id,
        list(EXPORTED_STAGES),
    )
    if row is None:
        raise LookupError(f"project {project_id} does not exist")
    return ExportFacts(
        detector=detector,
        classifier=classifier,
        taxa=[(taxon["taxon"], taxon["common_name"]) for taxon in taxa],
        completed_at=row["completed_at"],
        threshold=row["detection_threshold"],
        pending=row["pending"],
    )


async def _images(
    connection: asyncpg.Connection, project_id: int, classifier: str | None, prefetch: int
) -> AsyncIterator[ExportImage]:
    async for row in connection.cursor(
        _EXPORT_IMAGES, project_id, classifier, list(EXPORTED_STAGES), prefetch=prefetch
    ):
        yield ExportImage(
            file=export_path(row["camera"], row["original_name"], nth=row["nth"], sha256=row["sha256"]),
            sha256=row["sha256"],
            kind=row["kind"],
            stage=row["stage"],
            last_error=row["last_error"],
            frame_rate=row["frame_rate"],
            boxes=tuple(
                Box(
                    label=box["label"],
                    score=box["score"],
                    bbox=tuple(box["bbox"]),
                    frame_offset_s=box["offset"],
                    classifications=tuple((taxon, score) for taxon, score in box["classes"]),
                )
                for box in row["boxes"]
            ),
        )


async def load_results(
    pool: asyncpg.Pool,
    project_id: int,
    entries: Sequence[ImageResult],
    model_name: str,
    *,
    classifier_name: str | None = None,
    progress: Callable[[], None] | None = None,
) -> LoadReport:
    """Each entry's boxes onto the project's image it names (see domain/results.match), one transaction each.

    Images in 'stored' move to 'detected' (the detector is not run on them; the classifier is). Images past
    that keep their stage. An interrupted import leaves what it wrote; running it again completes it.
    """
    report = LoadReport()
    loaded: set[int] = set()
    async with pool.acquire() as connection:  # one connection for the whole file; a transaction per image
        # A commit need not wait for its flush to disk: after a crash, running the import again redoes the last few.
        await connection.execute("SET synchronous_commit = off")
        candidates = await _candidates(connection, project_id, entries)
        for entry in entries:
            if entry.failure is not None:
                report.skipped.append((entry.file, "failure in the file"))
            else:
                found = match(entry, _candidates_of(candidates, entry))
                if found.kind is MatchKind.UNMATCHED:
                    report.unmatched.append(entry.file)
                elif found.kind is MatchKind.AMBIGUOUS:
                    report.ambiguous.append(entry.file)
                elif found.image is not None and found.image.image_id in loaded:
                    report.skipped.append((entry.file, "another entry names the same image"))
                elif found.image is not None:
                    loaded.add(found.image.image_id)
                    await _load(connection, found.image.image_id, entry, model_name, classifier_name, report)
            if progress is not None:
                progress()
    return report


def _candidates_of(candidates: dict[str | bytes, list[Candidate]], entry: ImageResult) -> list[Candidate]:
    """The images of the entry's hash and names, each once."""
    keys: list[str | bytes] = [entry.sha256] if entry.sha256 is not None else []
    keys += lookup_names(entry.file)
    return list(dict.fromkeys(candidate for key in keys for candidate in candidates.get(key, [])))


async def _candidates(
    connection: asyncpg.Connection, project_id: int, entries: Sequence[ImageResult]
) -> dict[str | bytes, list[Candidate]]:
    """The project's photos and videos that the entries may name, by original name and by SHA-256."""
    names = sorted({name for entry in entries if entry.failure is None for name in lookup_names(entry.file)})
    hashes = sorted({entry.sha256 for entry in entries if entry.sha256 is not None and entry.failure is None})
    rows = await connection.fetch(
        """WITH wanted AS (
               SELECT i.id FROM images i JOIN unnest($2::text[]) AS n(name) ON i.original_name = n.name
               WHERE i.project_id = $1
               UNION
               SELECT i.id FROM images i WHERE i.project_id = $1 AND i.sha256 = ANY($3::bytea[]))
           SELECT i.id, i.original_name, i.sha256, i.stage::text AS stage, c.name AS camera,
                  coalesce(i.exif ->> 'upload_path', '') AS upload_path
           FROM wanted w JOIN images i ON i.id = w.id LEFT JOIN cameras c ON c.id = i.camera_id
           WHERE i.kind IN ('photo', 'video') AND i.stage <> 'rejected'""",
        project_id,
        names,
        hashes,
    )
    found: dict[str | bytes, list[Candidate]] = defaultdict(list)
    for row in rows:
        candidate = Candidate(
            image_id=row["id"],
            original_name=row["original_name"],
            sha256=bytes(row["sha256"]),
            camera=row["camera"],
            upload_path=row["upload_path"],
            stage=row["stage"],
        )
        found[candidate.original_name].append(candidate)
        found[candidate.sha256].append(candidate)
    return found


async def _load(
    connection: asyncpg.Connection,
    image_id: int,
    entry: ImageResult,
    model: str,
    classifier: str | None,
    report: LoadReport,
) -> None:
    async with connection.transaction():
        stage = await connection.fetchval("SELECT stage::text FROM images WHERE id = $1 FOR UPDATE", image_id)
        if stage not in TAKES_RESULTS:
            report.skipped.append((entry.file, f"image {stage}"))
            return
        changed, detection_ids = await _replace_boxes(connection, image_id, entry.boxes, model)
        changed |= await _replace_classifications(connection, detection_ids, entry.boxes, classifier)
        report.ignored_boxes += entry.ignored
        if stage == "stored":
            # A detector that leased it loses the lease: without it, its results are not taken (migration 006).
            await connection.execute(
                """UPDATE images SET stage = 'detected', claimed_by = NULL, claimed_until = NULL, retry_at = NULL,
                          updated_at = now() WHERE id = $1""",
                image_id,
            )
            report.moved += 1
        elif changed:
            # New boxes: species, blurred copies and the event are made again from them (a person the imported
            # detector found must be blurred in what viewers see).
            await connection.execute(
                """UPDATE images SET stage = CASE WHEN stage IN ('classified', 'done') THEN 'detected' ELSE stage END,
                          claimed_by = NULL, claimed_until = NULL, retry_at = NULL, updated_at = now()
                   WHERE id = $1""",
                image_id,
            )
            report.replaced += 1
        else:
            report.unchanged += 1


async def _replace_boxes(
    connection: asyncpg.Connection, image_id: int, boxes: Sequence[ImportedBox], model: str
) -> tuple[bool, list[int]]:
    """(whether anything changed, the detection ids in the order of ``boxes``)."""
    rows = await connection.fetch(
        "SELECT id, label::text, score, bbox, model, frame_offset_s FROM detections WHERE image_id = $1 ORDER BY index",
        image_id,
    )
    stored = [StoredBox(r["label"], r["score"], tuple(r["bbox"]), r["model"], r["frame_offset_s"]) for r in rows]
    if same_boxes(stored, boxes, model):
        return False, [row["id"] for row in rows]
    new_boxes = [detections.NewBox(box.label, box.score, box.bbox, box.frame_offset_s) for box in boxes]
    return True, await detections.replace_boxes(connection, image_id, new_boxes, model)


async def _replace_classifications(
    connection: asyncpg.Connection, detection_ids: list[int], boxes: Sequence[ImportedBox], classifier: str | None
) -> bool:
    """The file's classifications of each box, under its classifier's name; other classifiers' rows stay."""
    model = classifier or IMPORTED_CLASSIFIER
    pairs = zip(detection_ids, boxes, strict=True)
    wanted = {detection: box.classifications for detection, box in pairs if box.classifications}
    if not wanted:
        return False
    rows = await connection.fetch(
        """SELECT detection_id, taxon, common_name, score FROM classifications
           WHERE detection_id = ANY($1::bigint[]) AND model = $2 ORDER BY detection_id, rank""",
        list(wanted),
        model,
    )
    stored: dict[int, list[tuple[str, str | None, float]]] = defaultdict(list)
    for row in rows:
        stored[row["detection_id"]].append((row["taxon"], row["common_name"], row["score"]))
    changed = False
    for detection_id, ranked in wanted.items():
        if same_classifications(stored[detection_id], ranked):
            continue
        await connection.execute(
            "DELETE FROM classifications WHERE detection_id = $1 AND model = $2", detection_id, model
        )
        await connection.executemany(
            """INSERT INTO classifications (detection_id, taxon, common_name, score, model, rank)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            [
                (detection_id, taxon, common, score, model, rank)
                for rank, (taxon, common, score) in enumerate(ranked, 1)
            ],
        )
        changed = True
    return changed
