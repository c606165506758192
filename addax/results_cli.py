"""``addax export megadetector`` and ``addax import-results``: a project's detections as a MegaDetector
batch-output file, and such a file (made by MegaDetector elsewhere, or by an export) loaded back.

The export streams: the header, then each image as the database cursor yields it, into ``.OUT.partial``
beside ``OUT``, renamed to ``OUT`` once complete (an interrupted export leaves no half file under that name).
The import reads and checks the whole file first: a malformed file is refused before anything is written.
File paths and category mappings: domain/megadetector.py; how entries find images: domain/results.py.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from tqdm import tqdm

from addax.domain.megadetector import BatchResults, ResultsFormatError, batch_header, image_entry, parse_results
from addax.domain.results import LoadReport
from addax.store import audit, results

DEFAULT_DETECTOR = "imported"  # the model name of boxes from a file whose info names no detector


class ResultsFileError(Exception):
    """A results file that cannot be read, written or understood; the message says which and why."""


@dataclass(slots=True)
class ExportTally:
    written: int = 0
    failures: int = 0
    pending: int = 0  # not through detection yet
    videos_without_rate: int = 0

    def summary(self, out: Path) -> str:
        line = f"{self.written} images written to {out} ({self.failures} as failures)"
        left = [f"{self.pending} not through detection yet"] if self.pending else []
        if self.videos_without_rate:
            left.append(f"{self.videos_without_rate} videos without a known frame rate")
        return line + (f"; left out: {', '.join(left)}" if left else "")


async def export_megadetector(pool: asyncpg.Pool, project_id: int, out: Path) -> ExportTally:
    partial = out.with_name(f".{out.name}.partial")
    tally = ExportTally()
    try:
        async with results.export_images(pool, project_id) as (facts, images):
            tally.pending = facts.pending
            document, taxon_ids = batch_header(
                detector=facts.detector,
                classifier=facts.classifier,
                taxa=facts.taxa,
                completed_at=facts.completed_at,
                threshold=facts.threshold,
            )
            with partial.open("w", encoding="utf-8") as sink:
                sink.write(json.dumps(document, indent=1, ensure_ascii=False)[:-2] + ',\n "images": [')
                async for image in images:
                    entry = image_entry(image, taxon_ids)
                    if entry is None:
                        tally.videos_without_rate += 1
                        continue
                    sink.write(("\n  " if tally.written == 0 else ",\n  ") + json.dumps(entry, ensure_ascii=False))
                    tally.written += 1
                    tally.failures += "failure" in entry
                sink.write("\n ]\n}\n")
                sink.flush()
                os.fsync(sink.fileno())
        partial.replace(out)
    except OSError as error:
        raise ResultsFileError(f"cannot write {out}: {error.strerror or error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return tally


async def read_results(path: Path) -> BatchResults:
    """The file, parsed and checked whole (in a thread: a results file can be large)."""
    try:
        return await asyncio.to_thread(lambda: parse_results(json.loads(path.read_bytes())))
    except OSError as error:
        raise ResultsFileError(f"cannot read {path}: {error.strerror or error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsFileError(f"{path} is not JSON: {error}") from None
    except ResultsFormatError as error:
        raise ResultsFileError(f"{path}: {error}") from None


async def import_results(
    pool: asyncpg.Pool, project_id: int, batch: BatchResults, *, source: Path, by: str
) -> LoadReport:
    with tqdm(total=len(batch.images), unit="image", desc="loading") as progress:
        report = await results.load_results(
            pool,
            project_id,
            batch.images,
            batch.detector or DEFAULT_DETECTOR,
            classifier_name=batch.classifier,
            progress=lambda: progress.update(1),
        )
    await audit.record(
        pool,
        actor=by,
        action="results.import",
        target=str(project_id),
        file=source.name,
        detector=batch.detector,
        matched=report.matched,
        unmatched=len(report.unmatched),
        ambiguous=len(report.ambiguous),
        skipped=len(report.skipped),
    )
    return report
