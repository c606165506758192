"""Loading a MegaDetector results file into a project: which image each entry stands for, and what changed.

    ImageResult + candidates ──match()──▶ Match ─▶ store/results.load_results writes the boxes
    stored rows + ImageResult ──same_boxes()──▶ nothing to write (an import run twice changes nothing)

An entry with ``sha256`` stands for the image with those bytes, whatever its name. Otherwise its last path
component is the image's original name (or that name with ``~<sha256 prefix>``, as an export writes a second
image of one camera with the same name). Among several images of that name, the one whose camera folder or
upload folders end the entry's path wins; when none or several do, the entry is ambiguous.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from addax.domain.megadetector import DUPLICATE_NAME, ImageResult, ImportedBox, camera_folder, path_parts


@dataclass(frozen=True, slots=True)
class Candidate:
    """An image of the project that an entry may name."""

    image_id: int
    original_name: str
    sha256: bytes
    camera: str | None = None  # the camera's name
    upload_path: str = ""  # the folder the file came from (an upload or an imported card), "" if none
    stage: str = "stored"


class MatchKind(StrEnum):
    MATCHED = "matched"
    UNMATCHED = "unmatched"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class Match:
    kind: MatchKind
    image: Candidate | None = None


def lookup_names(file: str) -> tuple[str, ...]:
    """The original names an entry may stand for: its last component, and that without a ``~<sha256 prefix>``."""
    parts = path_parts(file)
    if not parts:
        return ()
    duplicate = DUPLICATE_NAME.match(parts[-1])
    return (parts[-1],) if duplicate is None else (parts[-1], duplicate["stem"] + (duplicate["suffix"] or ""))


def match(result: ImageResult, candidates: Sequence[Candidate]) -> Match:
    """The image an entry stands for, among ``candidates`` (the project's images of its names and its hash)."""
    if result.sha256 is not None:
        by_hash = [candidate for candidate in candidates if candidate.sha256 == result.sha256]
        return Match(MatchKind.MATCHED, by_hash[0]) if by_hash else Match(MatchKind.UNMATCHED)
    parts = path_parts(result.file)
    named = [candidate for candidate in candidates if _named(parts[-1] if parts else "", candidate)]
    if len(named) == 1:
        return Match(MatchKind.MATCHED, named[0])
    if not named:
        return Match(MatchKind.UNMATCHED)
    placed = [candidate for candidate in named if _ends_path(parts[:-1], candidate)]
    if len(placed) == 1:
        return Match(MatchKind.MATCHED, placed[0])
    return Match(MatchKind.AMBIGUOUS)


def _named(name: str, candidate: Candidate) -> bool:
    """Whether ``name`` is the candidate's original name, or that name with a prefix of its SHA-256."""
    if candidate.original_name == name:
        return True
    duplicate = DUPLICATE_NAME.match(name)
    return (
        duplicate is not None
        and candidate.original_name == duplicate["stem"] + (duplicate["suffix"] or "")
        and candidate.sha256.hex().startswith(duplicate["prefix"])
    )


def _ends_path(folders: list[str], candidate: Candidate) -> bool:
    """Whether the entry's folders end with the candidate's camera folder or its upload folders."""
    known = [[folder] if (folder := camera_folder(candidate.camera)) else [], path_parts(candidate.upload_path)]
    return any(tail and folders[-len(tail) :] == tail for tail in known)


# --- loading -----------------------------------------------------------------------------------------------

TAKES_RESULTS = ("stored", "detected", "classified", "done")
"""Stages whose images take imported boxes ('stored' ones then move to 'detected', skipping the detector)."""


@dataclass(frozen=True, slots=True)
class StoredBox:
    label: str
    score: float
    bbox: tuple[float, ...]
    model: str
    frame_offset_s: float | None = None


def same_boxes(stored: Sequence[StoredBox], wanted: Sequence[ImportedBox], model: str) -> bool:
    """Whether the stored detections already are ``wanted`` (compared as the database keeps them: float4)."""
    return len(stored) == len(wanted) and all(
        old.label == new.label
        and old.model == model
        and _f4(old.score) == _f4(new.score)
        and tuple(map(_f4, old.bbox)) == tuple(map(_f4, new.bbox))
        and _optional_f4(old.frame_offset_s) == _optional_f4(new.frame_offset_s)
        for old, new in zip(stored, wanted, strict=False)
    )


def same_classifications(
    stored: Sequence[tuple[str, str | None, float]], wanted: Sequence[tuple[str, str | None, float]]
) -> bool:
    """Whether one box's stored (taxon, common name, score), by rank, already are ``wanted``."""
    return len(stored) == len(wanted) and all(
        old[:2] == new[:2] and _f4(old[2]) == _f4(new[2]) for old, new in zip(stored, wanted, strict=False)
    )


def _f4(value: float) -> float:
    """``value`` as a PostgreSQL real (float4) holds it."""
    result: float = struct.unpack("f", struct.pack("f", value))[0]
    return result


def _optional_f4(value: float | None) -> float | None:
    return None if value is None else _f4(value)


@dataclass(slots=True)
class LoadReport:
    """What an import did with each entry of the file."""

    moved: int = 0  # stored -> detected, with the file's boxes
    replaced: int = 0  # boxes replaced, stage kept
    unchanged: int = 0  # the boxes already were the file's
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    ignored_boxes: int = 0  # detections of categories other than animal, person, vehicle

    @property
    def matched(self) -> int:
        return self.moved + self.replaced + self.unchanged

    def summary(self, *, shown: int = 10) -> str:
        lines = [
            f"{self.matched} matched ({self.moved} moved on to classification, {self.replaced} replaced,"
            f" {self.unchanged} unchanged), {len(self.unmatched)} unmatched, {len(self.ambiguous)} ambiguous,"
            f" {len(self.skipped)} skipped"
        ]
        for what, names in (("unmatched", self.unmatched), ("ambiguous (several photos of that name)", self.ambiguous)):
            if names:
                lines.append(f"{what}: " + ", ".join(names[:shown]) + _more(len(names) - shown))
        if self.skipped:
            reasons = Counter(why for _, why in self.skipped)
            lines.append("skipped: " + ", ".join(f"{why} {count}" for why, count in sorted(reasons.items())))
        if self.ignored_boxes:
            lines.append(f"{self.ignored_boxes} boxes of other categories than animal, person, vehicle ignored")
        return "\n".join(lines)


def _more(count: int) -> str:
    return f" and {count} more" if count > 0 else ""
