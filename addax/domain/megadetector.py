"""MegaDetector batch-output JSON (format 1.4 and later): entries built from Addax's rows, and files read back.

The format is described at https://lila.science/megadetector-output-format. Both ways go through here:

    export   ExportImage ──image_entry()──▶ {"file", "sha256", "detections" | "failure"}
             batch_header() ──▶ {"info", "detection_categories", "classification_categories", ...}
    import   parsed JSON ──parse_results()──▶ BatchResults, or ResultsFormatError naming each image and field
             (which image an entry stands for: domain/results.py)

File paths (``file``): ``<camera>/<original name>``, or the original name alone for an image without a
camera; ``/`` and ``\\`` in a camera name become ``_``. A second image of one camera with the same original
name (a camera whose counter started again) gets the first 8 hex digits of its SHA-256 before the extension
(``cam 7/IMG_0001~0a1b2c3d.JPG``), so every ``file`` of an export is unique. Each entry also carries
``sha256`` (an Addax addition that other tools ignore), which an import matches first.

Classification categories: the name is the taxon, the description (``classification_category_descriptions``)
the common name. Boxes are x, y, width, height normalised to 0..1 from the top-left corner, as Addax keeps them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

FORMAT_VERSION = "1.4"
DETECTION_CATEGORIES = {"1": "animal", "2": "person", "3": "vehicle"}
LABELS = tuple(DETECTION_CATEGORIES.values())  # what a box can be, everywhere (verification, gallery, rules)
MAX_CLASSIFICATIONS = 5  # classifications.rank is 1..5
IMPORTED_CLASSIFIER = "imported"  # the model name of classifications from a file whose info names no classifier
BOX_TOLERANCE = 0.005  # how far past the image's edge a box may reach (rounding); it is clamped to the edge
SHOWN_PROBLEMS = 3

_SEPARATORS = re.compile(r"[\\/]")
DUPLICATE_NAME = re.compile(r"^(?P<stem>.*)~(?P<prefix>[0-9a-f]{8})(?P<suffix>\.[^.]*)?$")
_HEX_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


def category_of(label: str) -> str:
    """The detection category id of an Addax label: animal "1", person "2", vehicle "3"."""
    for category, name in DETECTION_CATEGORIES.items():
        if name == label:
            return category
    raise ValueError(f"not a detection label: {label!r} (one of {', '.join(LABELS)})")


def label_of(category: str, categories: Mapping[str, str]) -> str | None:
    """The Addax label of a file's category id, by the category's name; None for names that are not ours.

    The format says detections of categories other than animal, person and vehicle mean "no detection".
    A category id that ``categories`` does not list raises KeyError.
    """
    name = categories[category].strip().lower()
    return name if name in LABELS else None


# --- export ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Box:
    """A stored detection; ``classifications`` are (taxon, score) of one classifier, best first."""

    label: str
    score: float
    bbox: tuple[float, float, float, float]
    frame_offset_s: float | None = None
    classifications: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class ExportImage:
    file: str
    sha256: str  # hex
    kind: str  # photo | video
    stage: str
    last_error: str | None = None
    boxes: tuple[Box, ...] = ()
    frame_rate: float | None = None  # videos: frames per second, when the ingestor recorded it


def camera_folder(camera_name: str | None) -> str | None:
    """The first component of an exported path: the camera's name without path separators."""
    if camera_name is None or not camera_name.strip(" "):
        return None
    folder = camera_name.strip(" ").replace("/", "_").replace("\\", "_")
    return folder.replace(".", "_") if folder in (".", "..") else folder


def path_parts(file: str) -> list[str]:
    """The components of an entry's path, with either separator, without empty and "." ones."""
    return [part for part in _SEPARATORS.split(file) if part not in ("", ".")]


def export_path(camera_name: str | None, original_name: str, *, nth: int, sha256: str) -> str:
    """``<camera>/<name>``; the ``nth`` (from 1) image of that path gets ``~<sha256 prefix>`` after the first."""
    name = original_name.replace("/", "_").replace("\\", "_")
    if nth > 1:
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem}~{sha256[:8]}.{suffix}" if dot and stem else f"{name}~{sha256[:8]}"
    folder = camera_folder(camera_name)
    return f"{folder}/{name}" if folder else name


def image_entry(image: ExportImage, taxon_ids: Mapping[str, str]) -> dict[str, Any] | None:
    """The ``images[]`` entry of one image; None for a video whose frame rate is unknown (it has no frame numbers).

    A failed image without boxes is a ``failure`` (its last error) with null detections. Classifications of
    taxa missing from ``taxon_ids`` are left out.
    """
    video = image.kind == "video"
    if video and not image.frame_rate:
        return None
    entry: dict[str, Any] = {"file": image.file, "sha256": image.sha256}
    if image.stage == "failed" and not image.boxes:
        entry["failure"] = image.last_error or "failed"
        entry["detections"] = None
        return entry
    if video:
        entry["frame_rate"] = image.frame_rate
    detections = []
    for box in image.boxes:
        if not all(math.isfinite(value) for value in (box.score, *box.bbox)):
            continue  # not a box (JSON has no NaN); no model of Addax writes one
        detection: dict[str, Any] = {
            "category": category_of(box.label),
            "conf": min(max(float(box.score), 0.0), 1.0),
            "bbox": [min(max(float(value), 0.0), 1.0) for value in box.bbox],
        }
        if video and image.frame_rate:
            detection["frame_number"] = round((box.frame_offset_s or 0.0) * image.frame_rate)
        ranked = [[taxon_ids[taxon], float(score)] for taxon, score in box.classifications if taxon in taxon_ids]
        if ranked:
            detection["classifications"] = ranked
        detections.append(detection)
    entry["detections"] = detections
    return entry


def batch_header(
    *,
    detector: str | None,
    classifier: str | None,
    taxa: Sequence[tuple[str, str | None]],
    completed_at: datetime | None,
    threshold: float | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The document without its images, and the classification category id of each taxon.

    ``taxa`` are (taxon, common name): the category's name is the taxon, its description the common name.
    """
    info: dict[str, Any] = {"format_version": FORMAT_VERSION}
    if detector:
        info["detector"] = detector
    if completed_at is not None:
        info["detection_completion_time"] = completed_at.strftime("%Y-%m-%d %H:%M:%S")
    if threshold is not None:
        info["detector_metadata"] = {"typical_detection_threshold": threshold}
    document: dict[str, Any] = {"info": info, "detection_categories": dict(DETECTION_CATEGORIES)}
    taxon_ids = {taxon: str(number) for number, (taxon, _) in enumerate(taxa)}
    if taxa:
        info["classifier"] = classifier or IMPORTED_CLASSIFIER
        document["classification_categories"] = {taxon_ids[taxon]: taxon for taxon, _ in taxa}
        described = {taxon_ids[taxon]: common for taxon, common in taxa if common}
        if described:
            document["classification_category_descriptions"] = described
    return document, taxon_ids


# --- import ------------------------------------------------------------------------------------------------


class ResultsFormatError(ValueError):
    """A results file that cannot be loaded; ``problems`` name the image and field of each."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        shown = "; ".join(self.problems[:SHOWN_PROBLEMS])
        more = len(self.problems) - SHOWN_PROBLEMS
        super().__init__(f"not a MegaDetector results file: {shown}" + (f" (and {more} more)" if more > 0 else ""))


@dataclass(frozen=True, slots=True)
class ImportedBox:
    """A detection to store; ``classifications`` are (taxon, common name, score), best first, at most 5."""

    label: str
    score: float
    bbox: tuple[float, float, float, float]
    frame_offset_s: float | None = None
    classifications: tuple[tuple[str, str | None, float], ...] = ()


@dataclass(frozen=True, slots=True)
class ImageResult:
    file: str
    sha256: bytes | None = None
    failure: str | None = None
    boxes: tuple[ImportedBox, ...] = ()
    ignored: int = 0  # detections of categories that are not animal, person or vehicle


@dataclass(frozen=True, slots=True)
class BatchResults:
    format_version: str
    detector: str | None
    classifier: str | None
    images: tuple[ImageResult, ...]


def parse_results(document: object) -> BatchResults:
    """A parsed results file, checked whole: any problem raises ResultsFormatError before anything is loaded."""
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ResultsFormatError(["the top level is not a JSON object"])
    info = document.get("info")
    version = info.get("format_version") if isinstance(info, dict) else None
    if not isinstance(info, dict):
        problems.append("info is missing or not an object")
    elif not _is_version(version):
        problems.append(f'info.format_version {version!r} is not a version number like "1.4"')
    detection_categories = _categories(document, "detection_categories", problems, required=True)
    classes = _classes(document, problems)
    images = document.get("images")
    if not isinstance(images, list):
        problems.append("images is missing or not a list")
        images = []
    results = [_image(number, image, detection_categories, classes, problems) for number, image in enumerate(images)]
    if problems:
        raise ResultsFormatError(problems)
    assert isinstance(info, dict)
    return BatchResults(
        format_version=str(version),
        detector=_text(info.get("detector")),
        classifier=_text(info.get("classifier")),
        images=tuple(result for result in results if result is not None),
    )


def _is_version(value: object) -> bool:
    try:
        return isinstance(value, str | int | float) and not isinstance(value, bool) and float(value) >= 1.0
    except ValueError:
        return False


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _categories(document: dict[str, Any], key: str, problems: list[str], *, required: bool) -> dict[str, str]:
    categories = document.get(key)
    if categories is None and not required:
        return {}
    if not isinstance(categories, dict):
        problems.append(f"{key} is missing or not an object")
        return {}
    good = {}
    for category, name in categories.items():
        if not category.isdigit() or not isinstance(name, str):
            problems.append(f"{key}: {category!r}: {name!r} is not a numeric id and a name")
        else:
            good[category] = name
    return good


def _classes(document: dict[str, Any], problems: list[str]) -> dict[str, tuple[str, str | None]]:
    """Classification category id -> (taxon, common name)."""
    names = _categories(document, "classification_categories", problems, required=False)
    descriptions = document.get("classification_category_descriptions")
    if not isinstance(descriptions, dict):
        descriptions = {}
    return {category: _taxon(name, descriptions.get(category)) for category, name in names.items()}


def _taxon(name: str, description: object) -> tuple[str, str | None]:
    """(taxon, common name) of a classification category.

    Addax writes the taxon as the name and the common name as the description. SpeciesNet writes the
    common name as the name and ``uuid;class;order;family;genus;species;common name`` as the description:
    its taxon is then the lowest rank named.
    """
    if not isinstance(description, str) or not description.strip():
        return name.strip(), None
    parts = [part.strip() for part in description.split(";")]
    if len(parts) == 7:
        genus, species = parts[4], parts[5]
        binomial = f"{genus.capitalize()} {species.lower()}" if genus and species else genus.capitalize()
        ranks = [binomial, *(rank.capitalize() for rank in parts[3:0:-1])]  # species up to class
        lowest = next((rank for rank in ranks if rank), None)
        if lowest:
            return lowest, parts[6] or name.strip()
    return name.strip(), description.strip()


def _image(
    number: int,
    image: object,
    categories: Mapping[str, str],
    classes: Mapping[str, tuple[str, str | None]],
    problems: list[str],
) -> ImageResult | None:
    if not isinstance(image, dict):
        problems.append(f"images[{number}] is not an object")
        return None
    file = image.get("file")
    if not isinstance(file, str) or not file.strip():
        problems.append(f"images[{number}] has no file field (the image's path)")
        return None
    where = f"images[{number}] {file!r}"
    sha256 = image.get("sha256")
    if sha256 is not None and not (isinstance(sha256, str) and _HEX_SHA256.match(sha256)):
        problems.append(f"{where}: sha256 {sha256!r} is not 64 hex digits")
        sha256 = None
    digest = bytes.fromhex(sha256) if isinstance(sha256, str) else None
    failure, detections = image.get("failure"), image.get("detections")
    if failure is not None:
        if not isinstance(failure, str):
            problems.append(f"{where}: failure {failure!r} is not a string")
        elif detections is not None:
            problems.append(f"{where}: has a failure ({failure!r}) but its detections are not null")
        return ImageResult(file=file, sha256=digest, failure=str(failure))
    if not isinstance(detections, list):
        problems.append(f"{where}: detections is missing or not a list (an image without boxes has [])")
        return None
    frame_rate = image.get("frame_rate")
    if frame_rate is not None and not (_is_number(frame_rate) and frame_rate > 0):
        problems.append(f"{where}: frame_rate {frame_rate!r} is not a number above 0")
        frame_rate = None
    boxes: list[ImportedBox] = []
    ignored = 0
    for index, detection in enumerate(detections):
        before = len(problems)
        box = _box(f"{where}: detections[{index}]", detection, categories, classes, frame_rate, problems)
        if box is not None:
            boxes.append(box)
        elif len(problems) == before:
            ignored += 1
    return ImageResult(file=file, sha256=digest, boxes=tuple(boxes), ignored=ignored)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _box(
    where: str,
    detection: object,
    categories: Mapping[str, str],
    classes: Mapping[str, tuple[str, str | None]],
    frame_rate: float | None,
    problems: list[str],
) -> ImportedBox | None:
    """The box to store; None for a category that is not ours, or after a problem (recorded in ``problems``)."""
    if not isinstance(detection, dict):
        problems.append(f"{where} is not an object")
        return None
    before = len(problems)
    category = detection.get("category")
    if not isinstance(category, str) or category not in categories:
        known = ", ".join(f"{key} {name}" for key, name in categories.items())
        problems.append(f"{where}.category {category!r} is not one of detection_categories ({known})")
    conf = detection.get("conf")
    if not (_is_number(conf) and 0.0 <= conf <= 1.0):
        problems.append(f"{where}.conf {conf!r} is not a number within 0..1")
    bbox = _bbox(f"{where}.bbox", detection.get("bbox"), problems)
    ranked = _ranked(f"{where}.classifications", detection.get("classifications"), classes, problems)
    frame_number = detection.get("frame_number")
    if frame_number is not None and not (isinstance(frame_number, int) and frame_number >= 0):
        problems.append(f"{where}.frame_number {frame_number!r} is not a whole number >= 0")
    if len(problems) > before:
        return None
    assert isinstance(category, str) and _is_number(conf) and bbox is not None
    label = label_of(category, categories)
    if label is None:
        return None
    offset = frame_number / frame_rate if isinstance(frame_number, int) and frame_rate else None
    return ImportedBox(label=label, score=float(conf), bbox=bbox, frame_offset_s=offset, classifications=ranked)


def _bbox(where: str, bbox: object, problems: list[str]) -> tuple[float, float, float, float] | None:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(value) for value in bbox)):
        problems.append(f"{where} {bbox!r} is not [x, y, width, height] (four numbers)")
        return None
    x, y, width, height = (float(value) for value in bbox)
    if width < 0 or height < 0:
        problems.append(f"{where} {bbox!r} has a negative width or height")
        return None
    low, high = -BOX_TOLERANCE, 1.0 + BOX_TOLERANCE
    if not (low <= x and low <= y and x + width <= high and y + height <= high):
        problems.append(f"{where} {bbox!r} is not within the image (normalised 0..1 from the top-left corner)")
        return None
    x, y = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
    return x, y, min(width, 1.0 - x), min(height, 1.0 - y)


def _ranked(
    where: str, ranked: object, classes: Mapping[str, tuple[str, str | None]], problems: list[str]
) -> tuple[tuple[str, str | None, float], ...]:
    if ranked is None:
        return ()
    if not isinstance(ranked, list):
        problems.append(f"{where} is not a list of [category, conf]")
        return ()
    found = []
    for position, pair in enumerate(ranked):
        if not (isinstance(pair, list) and len(pair) == 2):
            problems.append(f"{where}[{position}] {pair!r} is not [category, conf]")
        elif not isinstance(pair[0], str) or pair[0] not in classes:
            problems.append(f"{where}[{position}] category {pair[0]!r} is not one of classification_categories")
        elif not (_is_number(pair[1]) and 0.0 <= pair[1] <= 1.0):
            problems.append(f"{where}[{position}] conf {pair[1]!r} is not a number within 0..1")
        else:
            taxon, common_name = classes[pair[0]]
            found.append((taxon, common_name, float(pair[1])))
    found.sort(key=lambda item: -item[2])
    return tuple(found[:MAX_CLASSIFICATIONS])
