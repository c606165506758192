"""The first pass over a Camtrap DP package: every row of the three tables checked before anything is written.

It streams the CSVs once and keeps only what the import pass needs to decide (IDs and sets of media IDs), so a
package of any size is checked in bounded memory: which rows are invalid (their line numbers), which media have
machine observations (those need no detector run) and which have their own human observations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from addax.domain.camtrap_package import (
    TABLES,
    PackageError,
    RowChecker,
    descriptor_problems,
    resource_path,
)
from addax.store.camtrap_files import PackageFiles

MAX_LISTED = 20

Tick = Callable[[], None]
Progress = Callable[[str, int | None], Tick]  # (what, total) -> called once per row


def no_progress(what: str, total: int | None) -> Tick:
    return lambda: None


@dataclass
class Checked:
    """What the check pass learnt. ``problems`` lists the first ``MAX_LISTED``; ``problem_count`` counts all."""

    descriptor: dict[str, Any]
    paths: dict[str, str]
    rows: dict[str, int] = field(default_factory=dict)
    invalid: dict[str, set[int]] = field(default_factory=lambda: {table: set() for table in TABLES})
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0
    machine_media: set[str] = field(default_factory=set)
    human_media: set[str] = field(default_factory=set)

    def add(self, problems: list[str]) -> None:
        self.problem_count += len(problems)
        self.problems += problems[: max(0, MAX_LISTED - len(self.problems))]


def check_package(files: PackageFiles, progress: Progress = no_progress) -> Checked:
    """Every problem of the package (descriptor, headers, rows, references between the tables)."""
    descriptor, _ = files.descriptor()
    if not isinstance(descriptor, dict):
        raise PackageError("datapackage.json must hold a JSON object")
    paths = {table: resource_path(descriptor, table) for table in ("deployments", "media", "observations")}
    checked = Checked(descriptor=descriptor, paths=paths)
    checked.add(descriptor_problems(descriptor))
    deployments = _check_table(files, checked, "deployments", progress, lambda row: None)
    media: set[str] = set()

    def media_refs(row: dict[str, str | None]) -> str | None:
        if row["deploymentID"] not in deployments:
            return "deploymentID"
        media.add(str(row["mediaID"]))
        return None

    _check_table(files, checked, "media", progress, media_refs)

    def observation_refs(row: dict[str, str | None]) -> str | None:
        if row["deploymentID"] not in deployments:
            return "deploymentID"
        media_id = row.get("mediaID") or ""
        if media_id and media_id not in media:
            return "mediaID"
        if media_id and row.get("observationLevel") == "media" and row.get("observationType") != "unclassified":
            machine = row.get("classificationMethod") == "machine"
            (checked.machine_media if machine else checked.human_media).add(media_id)
        return None

    _check_table(files, checked, "observations", progress, observation_refs)
    return checked


def _check_table(
    files: PackageFiles,
    checked: Checked,
    table: str,
    progress: Progress,
    dangling: Callable[[dict[str, str | None]], str | None],
) -> set[str]:
    """Checks one table's rows; returns the primary keys of its valid rows."""
    checker = RowChecker(table)
    key = {"deployments": "deploymentID", "media": "mediaID", "observations": "observationID"}[table]
    header_problems = checker.header_problems(files.header(checked.paths[table]))
    if header_problems:
        checked.add(header_problems)
        checked.rows[table] = 0
        return set()
    valid, count, tick = set(), 0, progress(f"checking {table}", None)
    for line, _, row in files.rows(checked.paths[table]):
        count += 1
        tick()
        problems = checker.problems(line, row)
        if not problems and (reference := dangling(row)) is not None:
            problems = [f"{table}.csv line {line}: {reference} '{row[reference]}' is not in {_target(reference)}"]
        if problems:
            checked.invalid[table].add(line)
            checked.add(problems)
        else:
            valid.add(str(row[key]))
    checked.rows[table] = count
    return valid


def _target(reference: str) -> str:
    return "deployments.csv" if reference == "deploymentID" else "media.csv"
