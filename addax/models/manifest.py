"""A model is an ``.onnx`` file plus a TOML manifest beside it (the contract in docs/ARCHITECTURE.md).

``load_manifest`` reads and validates one manifest; every problem is a :class:`ManifestError` that names the
file and the key, so a start-up line tells the operator exactly what to fix.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DETECTOR_FAMILIES = ("megadetector-v5", "yolo-ultralytics")
CLASSIFIER_FAMILIES = ("deepfaune", "speciesnet", "classifier")
FAMILIES = DETECTOR_FAMILIES + CLASSIFIER_FAMILIES
DETECTION_LABELS = ("animal", "person", "vehicle")
RESIZE_MODES = ("squash", "center-crop", "letterbox")
OUTPUT_KINDS = ("logits", "probabilities")


class ManifestError(ValueError):
    """A manifest that cannot be used, with the file (and key) at fault in the message."""


@dataclass(frozen=True, slots=True)
class CropPreparation:
    """How a classifier wants its crops: see the manifest contract."""

    resize: str = "squash"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    outputs: str = "logits"
    crop_padding: float = 0.0


@dataclass(frozen=True, slots=True)
class Manifest:
    name: str  # the manifest's file stem: what models.detector / models.classifier name
    path: Path
    kind: str  # detector | classifier
    family: str
    file: Path  # resolved against the manifest's directory
    input_size: int
    labels: tuple[str, ...]
    #: detectors: model label -> animal | person | vehicle; labels not in it are ignored
    categories: Mapping[str, str] = field(default_factory=dict)
    crops: CropPreparation = CropPreparation()
    licence: str = ""
    source: str = ""
    sha256: str = ""
    #: speciesnet: ISO 3166 alpha-3 country for the geofence ("" = none), and the roll-up threshold
    country: str = ""
    rollup_threshold: float = 0.65
    geofence_file: Path | None = None

    @property
    def label(self) -> str:
        """How logs and API responses name the model."""
        return f"{self.name} ({self.family})"


def load_manifest(path: Path) -> Manifest:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ManifestError(f"{path}: cannot read the manifest ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ManifestError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ManifestError(f"{path}: not valid TOML ({error})") from None
    return parse_manifest(raw, path)


def parse_manifest(raw: Mapping[str, Any], path: Path) -> Manifest:
    fields = _Fields(raw, path)
    kind = fields.choice("kind", ("detector", "classifier"))
    family = fields.choice("family", DETECTOR_FAMILIES if kind == "detector" else CLASSIFIER_FAMILIES)
    labels = fields.labels(path.parent)
    categories = _categories(raw.get("categories"), labels, path) if kind == "detector" else {}
    geofence = fields.text("geofence_file", "")
    return Manifest(
        name=path.stem,
        path=path,
        kind=kind,
        family=family,
        file=path.parent / fields.text("file"),
        input_size=fields.integer("input_size", low=8, high=4096),
        labels=labels,
        categories=categories,
        crops=CropPreparation(
            resize=fields.choice("resize", RESIZE_MODES, "squash"),
            mean=fields.triple("mean", (0.0, 0.0, 0.0)),
            std=fields.triple("std", (1.0, 1.0, 1.0), positive=True),
            outputs=fields.choice("outputs", OUTPUT_KINDS, "logits"),
            crop_padding=fields.number("crop_padding", 0.0, low=0.0, high=1.0),
        ),
        licence=fields.text("licence", ""),
        source=fields.text("source", ""),
        sha256=fields.text("sha256", ""),
        country=fields.text("country", "").upper(),
        rollup_threshold=fields.number("rollup_threshold", 0.65, low=0.0, high=1.0),
        geofence_file=path.parent / geofence if geofence else None,
    )


def _categories(raw: Any, labels: tuple[str, ...], path: Path) -> dict[str, str]:
    if raw is None:
        return {label: label for label in labels if label in DETECTION_LABELS}
    if not isinstance(raw, Mapping):
        raise ManifestError(f"{path}: [categories] must be a table of model label = animal|person|vehicle")
    categories: dict[str, str] = {}
    for label, category in raw.items():
        if label not in labels:
            raise ManifestError(f"{path}: categories.{label}: not one of the model's labels")
        if category not in DETECTION_LABELS:
            raise ManifestError(f"{path}: categories.{label} must be one of {', '.join(DETECTION_LABELS)}")
        categories[label] = category
    return categories


class _Fields:
    """Typed reads of the manifest's top-level keys, each error naming file and key."""

    def __init__(self, raw: Mapping[str, Any], path: Path) -> None:
        self.raw = raw
        self.path = path

    def _fail(self, key: str, problem: str) -> ManifestError:
        return ManifestError(f"{self.path}: {key} {problem}")

    def _get(self, key: str, default: Any) -> Any:
        if key in self.raw:
            return self.raw[key]
        if default is None:
            raise self._fail(key, "is missing")
        return default

    def text(self, key: str, default: str | None = None) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or (default is None and not value):
            raise self._fail(key, "must be a non-empty string")
        return value

    def choice(self, key: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise self._fail(key, f"must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def integer(self, key: str, *, low: int, high: int) -> int:
        value = self._get(key, None)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self._fail(key, f"must be a whole number from {low} to {high}")
        return value

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self._get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or not low <= value <= high:
            raise self._fail(key, f"must be a number from {low} to {high}")
        return float(value)

    def triple(
        self, key: str, default: tuple[float, float, float], *, positive: bool = False
    ) -> tuple[float, float, float]:
        value = self._get(key, default)
        if (
            not isinstance(value, list | tuple)
            or len(value) != 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
            or (positive and not all(v > 0 for v in value))
        ):
            raise self._fail(key, "must be three numbers, one per RGB channel" + (", above 0" if positive else ""))
        return (float(value[0]), float(value[1]), float(value[2]))

    def labels(self, directory: Path) -> tuple[str, ...]:
        if "labels" in self.raw and "labels_file" in self.raw:
            raise self._fail("labels", "and labels_file are both set; keep one")
        if "labels_file" not in self.raw:
            labels = self._get("labels", None)
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) and x for x in labels):
                raise self._fail("labels", "must be a non-empty list of names, in the model's output order")
            if len(set(labels)) != len(labels):
                raise self._fail("labels", "has the same name twice")
            return tuple(labels)
        labels_path = directory / self.text("labels_file")
        try:
            lines = labels_path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise self._fail("labels_file", f"cannot be read: {labels_path} ({error.strerror})") from None
        except UnicodeDecodeError:
            raise self._fail("labels_file", f"{labels_path} is not UTF-8 text") from None
        names = [line.strip() for line in lines if line.strip()]
        if not names:
            raise self._fail("labels_file", f"{labels_path} must list one name per line, in the model's output order")
        if len(set(names)) != len(names):
            raise self._fail("labels_file", f"{labels_path} has the same name twice")
        return tuple(names)


def find_manifests(directory: Path) -> list[Path]:
    """Every manifest in the models directory, by name."""
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.toml"))
