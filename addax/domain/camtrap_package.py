"""Reading a Camtrap DP 1.0.x package made elsewhere: its descriptor checked against the official profile, each
CSV row checked against its table schema and turned into a value the importer writes.

Pure: the caller hands in the parsed descriptor and the rows (dicts from ``csv.DictReader``) one at a time, so a
package of any size is checked in one pass with bounded memory. The schemas are the vendored copies in
``addax/formats/camtrap-dp`` (Camtrap DP 1.0.2), read once.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMAS = Path(__file__).resolve().parents[1] / "formats" / "camtrap-dp"
TABLES = ("deployments", "media", "observations")
MISSING = frozenset({"", "NA", "NaN", "nan"})  # the tables' missingValues (1.0.2)
_TRUE, _FALSE = frozenset({"true", "True", "TRUE", "1"}), frozenset({"false", "False", "FALSE", "0"})
_REMOTE_REFS = {
    "https://specs.frictionlessdata.io/schemas/data-package.json": "data-package.json",
    "http://json.schemastore.org/geojson.json": "geojson.json",
}
# What a Camtrap DP observationType is among Addax's detection labels; blank, unknown and unclassified have none.
LABELS = {"animal": "animal", "human": "person", "vehicle": "vehicle"}


class PackageError(Exception):
    """The package cannot be read at all (no descriptor, not JSON, a table missing); a retry will not help."""


@cache
def table_schema(table: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMAS / f"{table}-table-schema.json").read_text()))


def descriptor_problems(descriptor: Any, *, limit: int = 20) -> list[str]:
    """What makes ``datapackage.json`` not a Camtrap DP package, checked offline against the vendored profile."""

    def local(name: str) -> Resource[Any]:
        return Resource.from_contents(json.loads((SCHEMAS / name).read_text()))

    registry: Registry[Any] = Registry().with_resources((url, local(name)) for url, name in _REMOTE_REFS.items())
    profile = json.loads((SCHEMAS / "camtrap-dp-profile.json").read_text())
    validator = jsonschema.Draft4Validator(profile, registry=registry)
    problems = []
    for error in sorted(validator.iter_errors(descriptor), key=lambda error: list(error.absolute_path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        problems.append(f"datapackage.json {where}: {error.message[:300]}")
        if len(problems) >= limit:
            break
    if isinstance(descriptor, Mapping):
        names = {resource.get("name") for resource in descriptor.get("resources", []) if isinstance(resource, dict)}
        problems += [f"datapackage.json resources: no '{table}' resource" for table in TABLES if table not in names]
    return problems[:limit]


def resource_path(descriptor: Mapping[str, Any], table: str) -> str:
    """The CSV file of a table, as the descriptor names it (relative to the package)."""
    for resource in descriptor.get("resources", []):
        if isinstance(resource, Mapping) and resource.get("name") == table:
            path = resource.get("path")
            if isinstance(path, list) and len(path) == 1:
                path = path[0]
            if not isinstance(path, str) or not is_inside(path):
                raise PackageError(f"datapackage.json: the {table} resource's path must be one file in the package")
            return path
    raise PackageError(f"datapackage.json has no {table} resource")


def is_inside(path: str) -> bool:
    """A relative path that stays inside the package (no URL, no absolute path, no ``..``)."""
    return bool(path) and "://" not in path and not path.startswith(("/", "\\", "~")) and ".." not in path.split("/")


def parse_datetime(text: str) -> datetime:
    """An ISO 8601 timestamp with its offset (``Z`` or ``+02:00``); one without an offset is refused."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("has no UTC offset")
    return value


def offset_minutes(value: datetime) -> int:
    offset = value.utcoffset() or timedelta()
    return int(offset.total_seconds() // 60)


class RowChecker:
    """Checks the rows of one table against its schema: required fields, types, enums, ranges, patterns and
    unique keys; ``problems(line, row)`` returns what is wrong with one row, each naming file, line and field."""

    def __init__(self, table: str) -> None:
        schema = table_schema(table)
        self.table, self.fields = table, schema["fields"]
        self._patterns = {
            field["name"]: re.compile(field["constraints"]["pattern"])
            for field in self.fields
            if "pattern" in field.get("constraints", {})
        }
        self._unique = [field["name"] for field in self.fields if field.get("constraints", {}).get("unique")]
        self._seen: dict[str, set[str]] = {name: set() for name in self._unique}

    def header_problems(self, header: list[str] | None) -> list[str]:
        missing = [f["name"] for f in self.fields if f.get("constraints", {}).get("required")]
        absent = [name for name in missing if name not in (header or [])]
        return [f"{self.table}.csv: no column {name}" for name in absent]

    def problems(self, line: int, row: Mapping[str, str | None]) -> list[str]:
        found = []
        for column in self.fields:
            name = column["name"]
            value = row.get(name)
            problem = self._field_problem(column, value)
            if problem:
                found.append(f"{self.table}.csv line {line}: {name} {problem}")
            elif name in self._seen and value not in MISSING and value is not None:
                if value in self._seen[name]:
                    found.append(f"{self.table}.csv line {line}: {name} '{value}' appears twice")
                self._seen[name].add(value)
        return found

    def _field_problem(self, field: Mapping[str, Any], value: str | None) -> str | None:
        constraints = field.get("constraints", {})
        if value is None or value in MISSING:
            return "is required" if constraints.get("required") else None
        kind = field.get("type", "string")
        try:
            number = _typed(kind, value)
        except ValueError as error:
            return f"'{value[:80]}' is not a {kind} ({error})"
        if "enum" in constraints and value not in constraints["enum"]:
            return f"'{value[:80]}' is not one of {', '.join(constraints['enum'])}"
        if number is not None and "minimum" in constraints and number < constraints["minimum"]:
            return f"{value} is below the minimum {constraints['minimum']}"
        if number is not None and "maximum" in constraints and number > constraints["maximum"]:
            return f"{value} is above the maximum {constraints['maximum']}"
        pattern = self._patterns.get(field["name"])
        if pattern is not None and not pattern.match(value):
            return f"'{value[:80]}' does not match the pattern {pattern.pattern}"
        return None


def _typed(kind: str, value: str) -> float | None:
    """Parses ``value`` as ``kind`` (ValueError if it is not one); the number, for range checks."""
    if kind == "number":
        number = float(value)
        if math.isnan(number):
            raise ValueError("not a number")
        return number
    if kind == "integer":
        return int(value)
    if kind == "boolean" and value not in _TRUE | _FALSE:
        raise ValueError("use true or false")
    if kind == "datetime":
        parse_datetime(value)
    return None


def _text(row: Mapping[str, str | None], name: str) -> str | None:
    value = row.get(name)
    return None if value is None or value in MISSING else value


def _number(row: Mapping[str, str | None], name: str) -> float | None:
    value = _text(row, name)
    return float(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class Deployment:
    id: str
    location_id: str | None
    location_name: str | None
    latitude: float
    longitude: float
    start: datetime
    end: datetime
    camera_id: str | None
    camera_model: str | None
    comments: str | None = None
    tags: tuple[str, ...] = ()  # deploymentTags, as written (Addax exports its camera's tags there)

    @property
    def camera_name(self) -> str:
        """Addax's exports say ``camera <name>`` in deploymentComments; else the model and the serial."""
        if self.comments and self.comments.startswith("camera ") and len(self.comments) <= 67:
            return self.comments.removeprefix("camera ")
        return f"{self.camera_model or 'camera'} {self.camera_identity}"[-60:].strip()

    @property
    def site_name(self) -> str:
        return self.location_name or self.location_id or f"Site {self.latitude:.5f}, {self.longitude:.5f}"

    @property
    def camera_identity(self) -> str:
        """The camera's serial as Addax keys cameras; a deployment without one gets a camera of its own."""
        return self.camera_id or f"camtrap-dp:{self.id}"


@dataclass(frozen=True, slots=True)
class Media:
    id: str
    deployment_id: str
    timestamp: datetime
    file_path: str
    file_name: str | None
    mediatype: str
    exif: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.file_name or self.file_path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def kind(self) -> str:
        return "video" if self.mediatype.startswith("video/") else "photo"


@dataclass(frozen=True, slots=True)
class Observation:
    id: str
    deployment_id: str
    media_id: str | None
    level: str  # media | event
    type: str  # animal | human | vehicle | blank | unknown | unclassified
    event_start: datetime
    event_end: datetime
    scientific_name: str | None
    count: int | None
    bbox: tuple[float, float, float, float] | None
    method: str | None  # human | machine | None (unknown)
    classified_by: str | None
    classified_at: datetime | None
    probability: float | None
    comments: str | None
    event_id: str | None = None  # the event the package puts it in (how its source grouped the photos)

    @property
    def label(self) -> str | None:
        return LABELS.get(self.type)


def deployment_from(row: Mapping[str, str | None]) -> Deployment:
    """A row that ``RowChecker('deployments')`` passed."""
    return Deployment(
        id=str(row["deploymentID"]),
        location_id=_text(row, "locationID"),
        location_name=_text(row, "locationName"),
        latitude=float(str(row["latitude"])),
        longitude=float(str(row["longitude"])),
        start=parse_datetime(str(row["deploymentStart"])),
        end=parse_datetime(str(row["deploymentEnd"])),
        camera_id=_text(row, "cameraID"),
        camera_model=_text(row, "cameraModel"),
        comments=_text(row, "deploymentComments"),
        tags=split_tags(_text(row, "deploymentTags")),
    )


def split_tags(text: str | None) -> tuple[str, ...]:
    """Camtrap DP's tags: a pipe-separated list (``forest | bait:none``), each trimmed, empty ones left out."""
    return tuple(part.strip() for part in (text or "").split("|") if part.strip())


def media_from(row: Mapping[str, str | None]) -> Media:
    return Media(
        id=str(row["mediaID"]),
        deployment_id=str(row["deploymentID"]),
        timestamp=parse_datetime(str(row["timestamp"])),
        file_path=str(row["filePath"]),
        file_name=_text(row, "fileName"),
        mediatype=str(row["fileMediatype"]),
        exif=_exif(_text(row, "exifData")),
    )


def _exif(text: str | None) -> dict[str, Any]:
    """exifData kept as the image's exif when it is a JSON object (Addax writes it so); else under ``exifData``.

    A video's ``keyframes`` are left out: they are object keys that the detector reads and retention deletes,
    so a package must not name them (they would be another server's, or another project's objects here)."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        return {"exifData": text}
    if not isinstance(value, dict):
        return {"exifData": value}
    if isinstance(value.get("video"), dict):
        value["video"] = {name: facts for name, facts in value["video"].items() if name != "keyframes"}
    elif "video" in value:
        del value["video"]
    return value


def observation_from(row: Mapping[str, str | None]) -> Observation:
    box = [_number(row, name) for name in ("bboxX", "bboxY", "bboxWidth", "bboxHeight")]
    count = _text(row, "count")
    classified_at = _text(row, "classificationTimestamp")
    return Observation(
        id=str(row["observationID"]),
        deployment_id=str(row["deploymentID"]),
        media_id=_text(row, "mediaID"),
        level=str(row["observationLevel"]),
        type=str(row["observationType"]),
        event_start=parse_datetime(str(row["eventStart"])),
        event_end=parse_datetime(str(row["eventEnd"])),
        scientific_name=_text(row, "scientificName"),
        count=int(count) if count is not None else None,
        # Camtrap DP and Addax both keep boxes as x, y, w, h normalised from the top-left corner
        bbox=(box[0], box[1], box[2], box[3]) if None not in box else None,  # type: ignore[arg-type]
        method=_text(row, "classificationMethod"),
        classified_by=_text(row, "classifiedBy"),
        classified_at=parse_datetime(classified_at) if classified_at else None,
        probability=_number(row, "classificationProbability"),
        comments=_text(row, "observationComments"),
        event_id=_text(row, "eventID"),
    )


def vernacular_names(descriptor: Mapping[str, Any]) -> dict[str, str]:
    """scientificName -> an English common name, from the descriptor's taxonomic list (when it has one)."""
    names = {}
    for taxon in descriptor.get("taxonomic", []) or []:
        if isinstance(taxon, Mapping) and isinstance(taxon.get("scientificName"), str):
            vernacular = taxon.get("vernacularNames") or {}
            english = vernacular.get("eng") or vernacular.get("en") if isinstance(vernacular, Mapping) else None
            if isinstance(english, str) and english:
                names[taxon["scientificName"]] = english
    return names


def package_key(descriptor: Mapping[str, Any], digest: str) -> str:
    """What identifies the package across imports: its ``id``, else its ``name``, else its descriptor's hash."""
    for key in ("id", "name"):
        if isinstance(descriptor.get(key), str) and descriptor[key]:
            return str(descriptor[key])
    return f"sha256:{digest}"


def camera_make_model(camera_model: str | None) -> tuple[str | None, str | None]:
    """Camtrap DP writes ``make-model`` (``Reconyx-HF2X``)."""
    if not camera_model:
        return None, None
    make, _, model = camera_model.partition("-")
    return (make, model) if model else (None, camera_model)
