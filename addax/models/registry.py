"""Which models are configured, and the detector as the pipeline and the detect API use it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from addax.models.classifiers import Guess, crop_tensor, name_box, taxonomy_for
from addax.models.detectors import DECODERS, Box
from addax.models.imaging import Letterbox, decode_rgb, letterbox
from addax.models.manifest import Manifest, ManifestError, find_manifests, load_manifest
from addax.models.session import OnnxModel, open_model

NO_DETECTOR = "no detector configured: install one with `addax models add FILE_OR_URL --family megadetector-v5`"


def pick_manifest(directory: Path, name: str, kind: str) -> Manifest | None:
    """The manifest named in the config, or else the only (first by name) one of that kind in the directory.

    A named manifest that is missing or broken raises :class:`ManifestError`; broken unnamed ones are skipped
    (``addax models list`` shows them).
    """
    if name:
        manifest = load_manifest(directory / f"{name}.toml")
        if manifest.kind != kind:
            raise ManifestError(f"{manifest.path}: models.{kind} names a {manifest.kind}")
        return manifest
    for path in find_manifests(directory):
        try:
            manifest = load_manifest(path)
        except ManifestError:
            continue
        if manifest.kind == kind:
            return manifest
    return None


class ModelUnavailable(Exception):
    """No model to run (none configured, or it failed to load): the message says which and what to do."""


@dataclass(frozen=True, slots=True)
class Prepared:
    tensor: np.ndarray  # 3 x S x S float32
    geometry: Letterbox


class ServedModel:
    """A model with its family's pre- and post-processing; every method is safe in any thread."""

    def __init__(self, model: OnnxModel) -> None:
        self.model = model
        self.manifest = model.manifest

    @classmethod
    def open(cls, manifest: Manifest, providers: Sequence[str], *, threads: int = 0) -> Self:
        return cls(open_model(manifest, providers, threads=threads))

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def provider(self) -> str:
        return self.model.provider

    def infer(self, batch: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Raw outputs, one per input tensor."""
        output = self.model.run(np.stack(batch))
        return [output[i] for i in range(len(batch))]


class Detector(ServedModel):
    def __init__(self, model: OnnxModel) -> None:
        super().__init__(model)
        self._decode = DECODERS[self.manifest.family]

    def prepare(self, data: bytes) -> Prepared:
        return self.prepare_pixels(decode_rgb(data, at_least=self.manifest.input_size))

    def prepare_pixels(self, rgb: np.ndarray) -> Prepared:
        tensor, geometry = letterbox(rgb, self.manifest.input_size)
        return Prepared(tensor, geometry)

    def boxes(self, output: np.ndarray, geometry: Letterbox) -> list[Box]:
        return self._decode(output, geometry, self.manifest.labels, self.manifest.categories)


class Classifier(ServedModel):
    def __init__(self, model: OnnxModel) -> None:
        super().__init__(model)
        self.taxonomy = taxonomy_for(self.manifest)

    def crop(self, rgb: np.ndarray, bbox: tuple[float, float, float, float]) -> np.ndarray:
        return crop_tensor(rgb, bbox, self.manifest.input_size, self.manifest.crops, self.manifest.family)

    def name_box(self, output: np.ndarray, allowed: frozenset[str], thresholds: Mapping[str, float]) -> list[Guess]:
        return name_box(
            output,
            self.taxonomy,
            self.manifest.crops,
            allowed=allowed,
            thresholds=thresholds,
            country=self.manifest.country,
        )


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the models say of one photo, in the detect API's shape (the contract in docs/ARCHITECTURE.md)."""

    detections: list[dict[str, object]]
    classifications: list[dict[str, object]]
    model: dict[str, object]
    inference_ms: float
