"""Camtrap DP 1.0.2 rows from Addax's: deployments, media and observations, and the package's metadata.

Pure functions over values the store reads (no I/O). Identifiers are stable across servers, so a package
exported, imported elsewhere and exported again names the same things the same way:

- ``deploymentID``: the camera's identity and the deployment's first day (``SN123-20240501``), numbered
  ``-2``, ``-3`` when one camera starts twice on one day;
- ``mediaID``: the SHA-256 of the original (unique within a project);
- ``eventID``: ``e`` and the first 16 hex digits of the event's first photo;
- ``observationID``: the media's or event's id, then ``-1``, ``-2`` ...

A person's verification wins over the models: a verified photo's observations are the person's boxes (or
``blank``), and an event with a verified photo is described by its verified photos only. The models' boxes
count from the project's detection threshold, each with its classifier's top-1 species.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from addax.domain.taxonomy import lineage
from addax.domain.verification import verification_from_row

VERSION = "1.0.2"
_BASE = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}"
PROFILE_URL = f"{_BASE}/camtrap-dp-profile.json"
SCHEMA_URLS = {name: f"{_BASE}/{name}-table-schema.json" for name in ("deployments", "media", "observations")}
DEFAULT_LICENSE = "CC-BY-4.0"
_LICENSE_PATHS = {
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC-BY-NC-4.0": "https://creativecommons.org/licenses/by-nc/4.0/",
    "CC-BY-SA-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
}

DEPLOYMENT_FIELDS = (
    "deploymentID locationID locationName latitude longitude coordinateUncertainty deploymentStart deploymentEnd"
    " setupBy cameraID cameraModel cameraDelay cameraHeight cameraDepth cameraTilt cameraHeading detectionDistance"
    " timestampIssues baitUse featureType habitat deploymentGroups deploymentTags deploymentComments"
).split()
MEDIA_FIELDS = (
    "mediaID deploymentID captureMethod timestamp filePath filePublic fileName fileMediatype exifData favorite"
    " mediaComments"
).split()
OBSERVATION_FIELDS = (
    "observationID deploymentID mediaID eventID eventStart eventEnd observationLevel observationType"
    " cameraSetupType scientificName count lifeStage sex behavior individualID individualPositionRadius"
    " individualPositionAngle individualSpeed bboxX bboxY bboxWidth bboxHeight classificationMethod classifiedBy"
    " classificationTimestamp classificationProbability observationTags observationComments"
).split()

OBSERVATION_TYPES = {"animal": "animal", "person": "human", "vehicle": "vehicle"}
_CLASSES = {"Mammalia", "Aves", "Reptilia", "Amphibia"}
_RANKS_BY_DEPTH = {4: "genus", 3: "family", 2: "order"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

Row = dict[str, Any]


class ExportFilterError(ValueError):
    """A filter of the export is wrong (a date, a site or a species that cannot be); retrying will not help."""


# --- the selection --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selection:
    """What to export: days (inclusive, in the project's zone), sites by name, species by scientific name."""

    first_day: date | None = None
    last_day: date | None = None
    sites: tuple[str, ...] = ()
    species: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.first_day and self.last_day and self.first_day > self.last_day:
            raise ExportFilterError(f"--from {self.first_day} is after --to {self.last_day}")

    def bounds(self, zone: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """The selection's days as UTC instants: [start, end)."""
        start = datetime.combine(self.first_day, time(), zone).astimezone(UTC) if self.first_day else None
        end = (
            datetime.combine(self.last_day + timedelta(days=1), time(), zone).astimezone(UTC) if self.last_day else None
        )
        return start, end


def parse_day(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ExportFilterError(f"{what} must be a date like 2024-05-31, got {text!r}") from None


# --- deployments ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deployment:
    id: int
    camera_identity: str
    camera_name: str
    make: str | None
    model: str | None
    site_id: int | None
    site_name: str | None
    latitude: float | None
    longitude: float | None
    starts_on: date
    ends_on: date | None  # None: still deployed
    first_taken_at: datetime | None  # its photos' times (UTC)
    last_taken_at: datetime | None
    tags: tuple[str, ...] = ()


def deployment_ids(deployments: Iterable[Deployment]) -> dict[int, str]:
    """Stable ids: camera identity and first day; a second start on the same day is numbered."""
    ids: dict[int, str] = {}
    seen: dict[str, int] = {}
    for deployment in sorted(deployments, key=lambda d: (d.camera_identity, d.starts_on, d.id)):
        base = f"{deployment.camera_identity}-{deployment.starts_on:%Y%m%d}"
        seen[base] = seen.get(base, 0) + 1
        ids[deployment.id] = base if seen[base] == 1 else f"{base}-{seen[base]}"
    return ids


def deployment_span(
    deployment: Deployment, zone: ZoneInfo, bounds: tuple[datetime | None, datetime | None]
) -> tuple[datetime, datetime]:
    """When it ran, in the project's zone: from its first day (or earlier photo) to its last day's end (or, still
    deployed, its last photo), cut to the selection's days."""
    start = datetime.combine(deployment.starts_on, time(), zone)
    if deployment.first_taken_at is not None:
        start = min(start, deployment.first_taken_at.astimezone(zone))
    if deployment.ends_on is not None:
        end = datetime.combine(deployment.ends_on + timedelta(days=1), time(), zone) - timedelta(seconds=1)
    else:
        end = start
    if deployment.last_taken_at is not None:
        end = max(end, deployment.last_taken_at.astimezone(zone))
    low, high = bounds
    if low is not None and low > start:
        start = low.astimezone(zone)
    if high is not None and high - timedelta(seconds=1) < end:
        end = (high - timedelta(seconds=1)).astimezone(zone)
    return start, max(start, end)


def deployment_row(deployment: Deployment, deployment_id: str, span: tuple[datetime, datetime]) -> Row:
    camera_model = "-".join(part for part in (deployment.make, deployment.model) if part) or None
    return {
        "deploymentID": deployment_id,
        "locationID": str(deployment.site_id) if deployment.site_id is not None else None,
        "locationName": deployment.site_name or deployment.camera_name,
        "latitude": round(deployment.latitude, 6) if deployment.latitude is not None else None,
        "longitude": round(deployment.longitude, 6) if deployment.longitude is not None else None,
        "deploymentStart": timestamp(span[0]),
        "deploymentEnd": timestamp(span[1]),
        "cameraID": deployment.camera_identity,
        "cameraModel": camera_model,
        "timestampIssues": False,
        "deploymentTags": " | ".join(deployment.tags) or None,
        "deploymentComments": f"camera {deployment.camera_name}",
    }


# --- media ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Media:
    id: int
    sha256: str
    deployment_id: int
    kind: str  # photo | video
    taken_at: datetime  # UTC
    utc_offset_minutes: int | None
    original_name: str
    original_key: str | None
    size_bytes: int
    private: bool  # may show people: its original is for the project's admins
    exif: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def local_time(self, zone: ZoneInfo) -> datetime:
        """When it was taken, with the camera's offset (or the project's zone when the camera gave none)."""
        if self.utc_offset_minutes is not None:
            return self.taken_at.astimezone(timezone(timedelta(minutes=self.utc_offset_minutes)))
        return self.taken_at.astimezone(zone)


def timestamp(moment: datetime) -> str:
    """ISO 8601 to the second, always with its offset (``+02:00``)."""
    if moment.tzinfo is None:
        raise ValueError("a Camtrap DP timestamp needs an offset")
    return moment.replace(microsecond=0).isoformat()


def safe_name(name: str) -> str:
    """A name safe as one part of a zip path: only ``[A-Za-z0-9._-]`` (a slash becomes ``_``), no ``..``, never
    starting with a dot."""
    cleaned = _UNSAFE.sub("_", name).replace("..", "_").lstrip(".") or "file"
    return cleaned[:120]


def media_path(media: Media, deployment_id: str) -> str:
    """Where the file lies inside the package: ``media/<deployment>/<sha prefix>-<name>`` (unique, relative)."""
    base = media.original_name.replace("\\", "/").rsplit("/", 1)[-1]  # the file's own name, not its folders
    return f"media/{safe_name(deployment_id)}/{media.sha256[:12]}-{safe_name(base)}"


def media_row(media: Media, deployment_id: str, zone: ZoneInfo, file_path: str) -> Row:
    return {
        "mediaID": media.sha256,
        "deploymentID": deployment_id,
        "captureMethod": "activityDetection",
        "timestamp": timestamp(media.local_time(zone)),
        "filePath": file_path,
        "filePublic": not media.private,
        "fileName": media.original_name,
        "fileMediatype": "video/mp4" if media.kind == "video" else "image/jpeg",
        "exifData": json.dumps(dict(media.exif), sort_keys=True, default=str) if media.exif else None,
        "favorite": any(tag.casefold() in ("favorite", "favourite") for tag in media.tags),
        "mediaComments": ("tags: " + " | ".join(media.tags)) if media.tags else None,
    }


# --- observations ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelBox:
    """A detector box with the top-1 species of the first classifier (by name) that named it."""

    label: str
    score: float
    bbox: tuple[float, float, float, float]
    model: str
    taxon: str | None = None
    common_name: str | None = None
    taxon_score: float | None = None
    classifier: str | None = None


@dataclass(frozen=True, slots=True)
class HumanCheck:
    """The row of ``verifications``: ``boxes`` as stored (jsonb), who and when."""

    boxes: Sequence[Mapping[str, Any]]
    blank: bool
    individuals: int | None
    notes: str
    by: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Photo:
    """What is known of one medium, for its observations."""

    media_id: str
    deployment_id: str
    taken: datetime  # with its offset
    stage: str
    threshold: float
    boxes: tuple[ModelBox, ...] = ()
    check: HumanCheck | None = None
    processed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    observation_type: str  # animal | human | vehicle | blank | unknown | unclassified
    method: str | None  # human | machine
    classified_by: str | None
    classified_at: datetime | None
    scientific_name: str | None = None
    common_name: str | None = None
    count: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    probability: float | None = None
    comments: str | None = None

    def row(self, observation_id: str, deployment_id: str, **where: Any) -> Row:
        """The CSV row; ``where``: mediaID, eventID, eventStart, eventEnd, observationLevel."""
        x, y, width, height = self.bbox if self.bbox is not None else (None, None, None, None)
        return {
            "observationID": observation_id,
            "deploymentID": deployment_id,
            **where,
            "observationType": self.observation_type,
            "scientificName": self.scientific_name,
            "count": self.count,
            "bboxX": x,
            "bboxY": y,
            "bboxWidth": width,
            "bboxHeight": height,
            "classificationMethod": self.method,
            "classifiedBy": self.classified_by,
            "classificationTimestamp": timestamp(self.classified_at) if self.classified_at else None,
            "classificationProbability": round(self.probability, 4) if self.probability is not None else None,
            "observationComments": self.comments,
        }


def clean_bbox(bbox: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    """A box inside the frame (0..1, top-left origin), rounded; None when nothing of it is left."""
    if bbox is None or len(bbox) != 4:
        return None
    x, y = (min(max(float(value), 0.0), 1.0) for value in bbox[:2])
    width, height = round(min(float(bbox[2]), 1.0 - x), 6), round(min(float(bbox[3]), 1.0 - y), 6)
    if width <= 0 or height <= 0:  # after rounding: the CSV must not say 0
        return None
    return round(x, 6), round(y, 6), width, height


def media_observations(photo: Photo) -> list[Observation]:
    """The person's observations when the photo was verified, else the models' above the threshold."""
    if photo.check is not None:
        return _human(photo.check)
    if photo.stage not in ("detected", "classified", "done"):
        return [Observation("unclassified", None, None, None)]
    seen = [box for box in photo.boxes if box.score >= photo.threshold]
    if not seen:
        model = photo.boxes[0].model if photo.boxes else None
        return [Observation("blank", "machine", model, photo.processed_at)]
    return [
        Observation(
            OBSERVATION_TYPES.get(box.label, "unknown"),
            "machine",
            box.classifier if box.taxon else box.model,
            photo.processed_at,
            scientific_name=box.taxon,
            common_name=box.common_name,
            count=1,
            bbox=clean_bbox(box.bbox),
            probability=box.taxon_score if box.taxon and box.taxon_score is not None else box.score,
        )
        for box in seen
    ]


def _human(check: HumanCheck) -> list[Observation]:
    verification = verification_from_row(
        check.boxes, blank=check.blank, individuals=check.individuals, notes=check.notes
    )
    by, notes = check.by or "a former user", check.notes or None
    if verification.blank or not verification.boxes:
        return [Observation("blank", "human", by, check.at, comments=notes)]
    return [
        Observation(
            OBSERVATION_TYPES.get(box.label, "unknown"),
            "human",
            by,
            check.at,
            scientific_name=box.taxon,
            common_name=box.common_name,
            count=box.count,
            bbox=clean_bbox(box.bbox),
            comments=notes,
        )
        for box in verification.boxes
    ]


def media_rows(photo: Photo, observations: Sequence[Observation], event_id: str | None) -> list[Row]:
    when = timestamp(photo.taken)
    return [
        observation.row(
            f"{photo.media_id}-{number}",
            photo.deployment_id,
            mediaID=photo.media_id,
            eventID=event_id,
            eventStart=when,
            eventEnd=when,
            observationLevel="media",
        )
        for number, observation in enumerate(observations, start=1)
    ]


def event_id_of(first_media_id: str) -> str:
    return f"e{first_media_id[:16]}"


@dataclass(slots=True)
class EventTally:
    """The photos of one event, one at a time; ``rows`` then gives its event-level observations.

    A group is (type, species); its count is the most individuals of it in one photo. When a person verified
    any photo of the event, only verified photos speak for it.
    """

    event_id: str
    deployment_id: str
    start: datetime | None = None
    end: datetime | None = None
    _photos: list[tuple[bool, list[Observation]]] = field(default_factory=list)

    def add(self, photo: Photo, observations: Sequence[Observation]) -> None:
        self.start = photo.taken if self.start is None else min(self.start, photo.taken)
        self.end = photo.taken if self.end is None else max(self.end, photo.taken)
        self._photos.append((photo.check is not None, list(observations)))

    def observations(self) -> list[Observation]:
        verified = [found for checked, found in self._photos if checked]
        photos = verified or [found for _, found in self._photos]
        groups: dict[tuple[str, str | None], list[tuple[int, list[Observation]]]] = {}
        for number, found in enumerate(photos):
            for observation in found:
                if observation.observation_type not in ("blank", "unclassified", "unknown"):
                    key = (observation.observation_type, observation.scientific_name)
                    groups.setdefault(key, []).append((number, [observation]))
        if groups:
            return [_merged(members) for members in groups.values()]
        every = [observation for found in photos for observation in found]
        for kind in ("blank", "unknown", "unclassified"):
            alike = [observation for observation in every if observation.observation_type == kind]
            if alike:
                return [_merged([(0, alike)], bbox=False)]
        return []

    def rows(self) -> list[Row]:
        assert self.start is not None and self.end is not None, "an event has at least one photo"
        return [
            observation.row(
                f"{self.event_id}-{number}",
                self.deployment_id,
                mediaID=None,
                eventID=self.event_id,
                eventStart=timestamp(self.start),
                eventEnd=timestamp(self.end),
                observationLevel="event",
            )
            for number, observation in enumerate(self.observations(), start=1)
        ]


def _merged(members: Sequence[tuple[int, Sequence[Observation]]], *, bbox: bool = False) -> Observation:
    """One event observation from its photos' observations of one group."""
    per_photo: dict[int, int] = {}
    every: list[Observation] = []
    for number, found in members:
        for observation in found:
            per_photo[number] = per_photo.get(number, 0) + (observation.count or 0)
            every.append(observation)
    first = every[0]
    human = all(observation.method == "human" for observation in every)
    machines = [o.probability for o in every if o.method == "machine" and o.probability is not None]
    names = sorted({o.classified_by for o in every if o.classified_by})
    moments = [o.classified_at for o in every if o.classified_at is not None]
    count = max(per_photo.values(), default=0)
    return replace(
        first,
        method=None if first.method is None else ("human" if human else "machine"),
        classified_by=" | ".join(names) or None,
        classified_at=max(moments) if moments else None,
        common_name=next((o.common_name for o in every if o.common_name), None),
        count=count or None,
        bbox=first.bbox if bbox else None,
        probability=None if human else max(machines, default=None),
        comments=" | ".join(sorted({o.comments for o in every if o.comments})) or None,
    )


# --- the package ----------------------------------------------------------------------------------------


def taxon_rank(name: str) -> str | None:
    words = name.split()
    if len(words) == 2:
        return "species"
    if len(words) == 3:
        return "subspecies"
    if len(words) == 1:
        if name in _CLASSES:
            return "class"
        return _RANKS_BY_DEPTH.get(len(lineage(name)))
    return None


def taxonomic(taxa: Mapping[str, str | None]) -> list[Row]:
    """``taxa``: scientific name -> an English common name (or None), from every observation written."""
    entries = []
    for name in sorted(taxa):
        entry: Row = {"scientificName": name}
        if rank := taxon_rank(name):
            entry["taxonRank"] = rank
        if taxa[name]:
            entry["vernacularNames"] = {"eng": taxa[name]}
        entries.append(entry)
    return entries


def spatial(points: Iterable[tuple[float, float]]) -> Row:
    """GeoJSON of the deployments: a point, or the bounding box as a polygon. ``points``: (latitude, longitude)."""
    latitudes, longitudes = [], []
    for latitude, longitude in points:
        latitudes.append(round(latitude, 6))
        longitudes.append(round(longitude, 6))
    if not latitudes:
        raise ValueError("no deployment with a location")
    south, north, west, east = min(latitudes), max(latitudes), min(longitudes), max(longitudes)
    if south == north and west == east:
        return {"type": "Point", "coordinates": [west, south]}
    if south == north or west == east:  # a line of cameras: widen by a hair so the polygon has an area
        south, north, west, east = south - 1e-6, north + 1e-6, west - 1e-6, east + 1e-6
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def license_entries(name: str) -> list[Row]:
    """The same licence for the data and the media (Camtrap DP wants one of each scope)."""
    entry: Row = {"name": name}
    if name in _LICENSE_PATHS:
        entry["path"] = _LICENSE_PATHS[name]
    return [{**entry, "scope": "data"}, {**entry, "scope": "media"}]


def package_name(project: str) -> str:
    """A Data Package name (lower case, ``[-a-z0-9._/]``) from the project's."""
    return re.sub(r"[^-a-z0-9._]+", "-", project.lower()).strip("-.") or "addax-project"


@dataclass(frozen=True, slots=True)
class PackageFacts:
    project_id: int
    project: str
    contact: str  # who exported: an e-mail, or cli:<unix user>
    admins: tuple[str, ...]
    license: str
    created: datetime
    temporal: tuple[date, date]
    spatial: Row
    taxa: Mapping[str, str | None]
    instance: str = "Addax"
    software_version: str = ""
    description: str = ""


def datapackage(facts: PackageFacts, package_id: str) -> Row:
    """``datapackage.json``: Camtrap DP's required metadata and the three resources."""
    contributors: list[Row] = [_person(facts.contact, "contact")]
    contributors += [_person(admin, "contributor") for admin in facts.admins if admin != facts.contact]
    contributors.append({"title": facts.project, "role": "rightsHolder"})
    return {
        "profile": PROFILE_URL,
        "name": package_name(facts.project),
        "id": package_id,
        "created": timestamp(facts.created.astimezone(UTC)).replace("+00:00", "Z"),
        "title": f"{facts.project}: camera-trap data from {facts.instance}",
        "description": facts.description or f"Camera-trap deployments, media and observations of {facts.project}.",
        "version": "1.0",
        "contributors": contributors,
        "sources": [{"title": f"Addax ({facts.instance})", "version": facts.software_version}],
        "licenses": license_entries(facts.license),
        "project": {
            "id": str(facts.project_id),
            "title": facts.project,
            "samplingDesign": "opportunistic",
            "captureMethod": ["activityDetection"],
            "individualAnimals": False,
            "observationLevel": ["media", "event"],
        },
        "spatial": facts.spatial,
        "temporal": {"start": facts.temporal[0].isoformat(), "end": facts.temporal[1].isoformat()},
        "taxonomic": taxonomic(facts.taxa),
        "resources": [
            {
                "name": name,
                "path": f"{name}.csv",
                "profile": "tabular-data-resource",
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "schema": url,
            }
            for name, url in SCHEMA_URLS.items()
        ],
    }


def _person(who: str, role: str) -> Row:
    person: Row = {"title": who, "role": role}
    if "@" in who:
        person["email"] = who
    return person


def cell(value: Any) -> str:
    """A CSV cell: empty for None, ``true``/``false``, numbers without float noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") or "0"  # never an exponent
    return str(value)


def csv_values(row: Mapping[str, Any], fields: Sequence[str]) -> list[str]:
    return [cell(row.get(name)) for name in fields]
