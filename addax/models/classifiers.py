"""Classifier adapters, pure functions of arrays: a box of a photo to a tensor, a model's output row to names.

``taxonomy_for(manifest)`` reads once what the labels mean (a :class:`Taxonomy`). Label formats, one per output:

- ``Scientific name`` or ``Scientific name|common name`` (family ``classifier``): flat labels, no ranks;
- SpeciesNet's ``uuid;class;order;family;genus;species;common name`` (family ``speciesnet``, and accepted for
  ``classifier``): ranks for the roll-up (see ``addax.models.speciesnet``);
- DeepFaune's class names (family ``deepfaune``): common names mapped to scientific names
  (``addax.models.deepfaune``).

``crop_tensor`` cuts the box out of the photo and prepares it as the manifest's :class:`CropPreparation` says:

1. ``crop_padding`` widens the box by that fraction of its size on each side;
2. the box becomes pixels: DeepFaune first makes it square (its ``cropSquareCVtoPIL``), SpeciesNet truncates corner
   and size (its ``F.crop``), other classifiers take every pixel the box touches;
3. the crop is clipped at the photo's edges: no pixel is made up, so a box that pokes out of the photo gives a
   smaller crop, resized like any other (DeepFaune does the same; SpeciesNet's boxes never leave the photo);
4. ``resize``: ``squash`` to ``size x size`` ignoring proportions; ``center-crop``: the shorter side to ``size``
   then the middle square (torchvision's ``Resize`` + ``CenterCrop``); ``letterbox``: the longer side to ``size``,
   centred on black. Filters: bicubic for DeepFaune (Pillow, as DeepFaune), torch's bilinear without
   antialiasing and a round trip through ``uint8`` for SpeciesNet (as SpeciesNet), Pillow's bilinear otherwise;
5. ``(pixel / 255 - mean) / std`` per channel, as a float32 ``3 x size x size`` array (the session transposes it
   for a channels-last model such as SpeciesNet).

``name_box`` turns one output row into at most ``top`` guesses, best first:

1. scores: the softmax of the row when ``outputs = "logits"``, the row as given when ``"probabilities"``;
2. geofence (SpeciesNet with a ``geofence_file`` and a ``country``): species that the geofence keeps out of the
   country are dropped from the guesses, without renormalising; their scores still count in a roll-up from the
   family upwards (SpeciesNet rolls a geofenced guess up from the family). Without a geofence this step is skipped;
3. ``allowed`` (when not empty): only the labels whose taxon or common name is in it (ignoring case) stay, and
   their scores are renormalised to sum to 1; when none stays (or they all score 0) the answer is ``[]``;
4. the ``top`` best guesses, highest score first (ties: output order), scores rounded to 4 places;
5. element 0 is the accepted answer. When the best guess scores below its threshold (``thresholds`` keyed by its
   taxon or its common name, exact then ignoring case; otherwise 0 for ``classifier`` and ``deepfaune``, the
   manifest's ``rollup_threshold`` for ``speciesnet``), element 0 is instead the roll-up, followed by the best
   ``top - 1`` guesses: the lowest higher taxon - genus, then family, order, class - whose summed score reaches
   that threshold (at each rank the taxon with the highest sum; a taxon the geofence keeps out of the country is
   skipped; only labels with ranks take part: SpeciesNet's and 7-field ``classifier`` labels), or else
   ``Guess("Animalia", "animal", sum of every animal label's score)``. A best guess that is no animal (blank,
   empty, human, person, vehicle, ``no cv result``) is never rolled up, and such labels count in no sum.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from PIL import Image

from addax.models.deepfaune import DEEPFAUNE_SCIENTIFIC, square_crop_box
from addax.models.manifest import CropPreparation, Manifest, ManifestError
from addax.models.speciesnet import (
    LEVELS,
    GeofenceRule,
    Label,
    crop_box,
    fenced_out,
    is_speciesnet_label,
    parse_geofence,
    parse_label,
    quantize,
    rank_key,
    resize_bilinear,
    taxon_name,
)

#: flat labels that are no animal (compared in lower case)
NOT_ANIMAL_NAMES = frozenset({"blank", "empty", "human", "person", "people", "vehicle", "no cv result"})
_NO_RANKS = ("", "", "", "", "")
_TOLERANCE = 1e-9  # a sum of float scores "reaches" a threshold it misses by rounding only


@dataclass(frozen=True, slots=True)
class Guess:
    taxon: str  # scientific name when known (e.g. "Capreolus capreolus"), else the label itself
    common_name: str | None  # e.g. "roe deer"
    score: float  # 0..1, rounded to 4 places


@dataclass(frozen=True, slots=True, eq=False)
class Taxonomy:
    """What a model's outputs mean, per output index; built by :func:`parse_taxonomy`."""

    family: str
    taxa: tuple[str, ...]
    common_names: tuple[str | None, ...]
    animal: np.ndarray  # bool per output
    #: per roll-up level of ``speciesnet.LEVELS``: the group of each output (-1: none) and each group's rank key
    groups: tuple[tuple[np.ndarray, tuple[str, ...]], ...]
    #: geofence key (``class;order;family;genus;species``) per output, "" for flat labels
    keys: tuple[str, ...]
    #: rank key -> common name, from the labels that stop at that rank ("cervidae family")
    names: Mapping[str, str]
    default_threshold: float = 0.0
    geofence: Mapping[str, GeofenceRule] = field(default_factory=dict)
    _masks: dict[Any, np.ndarray] = field(default_factory=dict, repr=False)  # per country, per allowed set

    def fenced(self, country: str) -> np.ndarray:
        """The outputs that the geofence keeps out of ``country`` (read-only, cached)."""
        if not self.geofence or not country:
            return np.zeros(len(self.taxa), dtype=bool)
        return self._mask(("country", country), lambda: [fenced_out(self.geofence.get(k), country) for k in self.keys])

    def matching(self, allowed: frozenset[str]) -> np.ndarray:
        """The outputs whose taxon or common name is in ``allowed``, ignoring case (read-only, cached)."""

        def build() -> list[bool]:
            wanted = {name.casefold() for name in allowed}
            return [
                taxon.casefold() in wanted or (common is not None and common.casefold() in wanted)
                for taxon, common in zip(self.taxa, self.common_names, strict=True)
            ]

        return self._mask(("allowed", allowed), build)

    def _mask(self, key: Any, build: Callable[[], list[bool]]) -> np.ndarray:
        mask = self._masks.get(key)
        if mask is None:
            if len(self._masks) > 256:
                self._masks.clear()
            mask = np.array(build(), dtype=bool)
            mask.flags.writeable = False
            self._masks[key] = mask
        return mask


def taxonomy_for(manifest: Manifest) -> Taxonomy:
    """The manifest's labels parsed once; for SpeciesNet also its ``geofence_file`` (read here, the one I/O)."""
    geofence: dict[str, GeofenceRule] = {}
    if manifest.family == "speciesnet" and manifest.geofence_file is not None:
        path = manifest.geofence_file
        try:
            geofence = parse_geofence(json.loads(path.read_text(encoding="utf-8")))
        except OSError as error:
            raise ManifestError(f"{manifest.path}: geofence_file cannot be read: {path} ({error.strerror})") from None
        except ValueError as error:  # JSONDecodeError is one
            raise ManifestError(
                f"{manifest.path}: geofence_file {path} is not a SpeciesNet geofence: {error}"
            ) from None
    threshold = manifest.rollup_threshold if manifest.family == "speciesnet" else 0.0
    return parse_taxonomy(manifest.labels, manifest.family, default_threshold=threshold, geofence=geofence)


def parse_taxonomy(
    labels: Sequence[str],
    family: str,
    *,
    default_threshold: float = 0.0,
    geofence: Mapping[str, GeofenceRule] | None = None,
) -> Taxonomy:
    parsed = [_parse(label, family) for label in labels]
    groups = []
    for _level, kept in LEVELS:
        index: dict[str, int] = {}
        column = np.full(len(parsed), -1, dtype=np.int64)
        for i, label in enumerate(parsed):
            if label.animal and label.ranks[kept - 1]:
                column[i] = index.setdefault(rank_key(label.ranks, kept), len(index))
        groups.append((column, tuple(index)))
    return Taxonomy(
        family=family,
        taxa=tuple(label.taxon for label in parsed),
        common_names=tuple(label.common_name for label in parsed),
        animal=np.array([label.animal for label in parsed], dtype=bool),
        groups=tuple(groups),
        keys=tuple(rank_key(label.ranks) if label.ranks != _NO_RANKS else "" for label in parsed),
        names={rank_key(label.ranks): label.common_name for label in parsed if label.common_name},
        default_threshold=default_threshold,
        geofence=dict(geofence or {}),
    )


def _parse(label: str, family: str) -> Label:
    if is_speciesnet_label(label):
        return parse_label(label)
    if family == "deepfaune" and label in DEEPFAUNE_SCIENTIFIC:
        return Label(ranks=_NO_RANKS, taxon=DEEPFAUNE_SCIENTIFIC[label], common_name=label, animal=True)
    scientific, _, common_part = label.partition("|")
    taxon, common = scientific.strip(), common_part.strip() or None
    if family == "deepfaune" and common is None:
        common = taxon  # DeepFaune's labels are common names
    animal = taxon.casefold() not in NOT_ANIMAL_NAMES and (common or "").casefold() not in NOT_ANIMAL_NAMES
    return Label(ranks=_NO_RANKS, taxon=taxon, common_name=common, animal=animal)


def name_box(
    output_row: np.ndarray,
    taxonomy: Taxonomy,
    crops: CropPreparation,
    *,
    allowed: frozenset[str] = frozenset(),
    thresholds: Mapping[str, float] = MappingProxyType({}),
    country: str = "",
    top: int = 5,
) -> list[Guess]:
    """One box's guesses, the accepted answer first: the steps are in the module's docstring."""
    scores = _scores(output_row, crops.outputs, len(taxonomy.taxa))
    country = country.strip().upper()
    fenced = taxonomy.fenced(country)
    shown = ~fenced
    hidden = np.where(fenced, scores, 0.0)  # geofenced: out of the guesses, still in a roll-up from the family up
    if allowed:
        shown &= taxonomy.matching(allowed)
        total = float(scores[shown].sum())
        if total <= 0.0:
            return []
        scores = np.where(shown, scores / total, 0.0)
        hidden = np.zeros_like(scores)
    else:
        scores = np.where(shown, scores, 0.0)
    candidates = np.flatnonzero(shown)
    if candidates.size == 0 or top <= 0:
        return []
    best_first = candidates[np.argsort(-scores[candidates], kind="stable")][:top]
    guesses = [_guess(taxonomy.taxa[i], taxonomy.common_names[i], scores[i]) for i in best_first]
    best = int(best_first[0])
    threshold = _threshold(taxonomy, best, thresholds)
    if scores[best] >= threshold or not taxonomy.animal[best]:
        return guesses
    return [_roll_up(taxonomy, scores, hidden, threshold, country), *guesses[: top - 1]]


def _scores(output_row: np.ndarray, outputs: str, classes: int) -> np.ndarray:
    row = np.asarray(output_row, dtype=np.float64).reshape(-1)
    if row.size != classes:
        raise ValueError(f"the model gave {row.size} scores for {classes} labels")
    if outputs == "probabilities":
        return row
    exp = np.exp(row - row.max())
    softmax: np.ndarray = exp / exp.sum()
    return softmax


def _guess(taxon: str, common_name: str | None, score: float) -> Guess:
    return Guess(taxon=taxon, common_name=common_name, score=round(float(score), 4))


def _threshold(taxonomy: Taxonomy, index: int, thresholds: Mapping[str, float]) -> float:
    names = [name for name in (taxonomy.taxa[index], taxonomy.common_names[index]) if name]
    for name in names:
        if name in thresholds:
            return float(thresholds[name])
    folded = {key.casefold(): value for key, value in thresholds.items()}
    for name in names:
        if name.casefold() in folded:
            return float(folded[name.casefold()])
    return taxonomy.default_threshold


def _roll_up(taxonomy: Taxonomy, scores: np.ndarray, hidden: np.ndarray, threshold: float, country: str) -> Guess:
    for (level, _kept), (column, keys) in zip(LEVELS, taxonomy.groups, strict=True):
        if not keys:
            continue
        weights = scores if level == "genus" else scores + hidden
        member = column >= 0
        sums = np.bincount(column[member], weights=weights[member], minlength=len(keys))
        for group in np.argsort(-sums, kind="stable"):
            if sums[group] < threshold - _TOLERANCE:
                break
            key = keys[group]
            if not fenced_out(taxonomy.geofence.get(key), country):
                return _guess(taxon_name(tuple(key.split(";"))), taxonomy.names.get(key), sums[group])
    return _guess("Animalia", "animal", float((scores + hidden)[taxonomy.animal].sum()))


def crop_tensor(
    rgb: np.ndarray,
    bbox: tuple[float, float, float, float],
    size: int,
    crops: CropPreparation,
    family: str,
) -> np.ndarray:
    """The box ``[x, y, w, h]`` (normalised, from the top-left) of an ``H x W x 3`` uint8 photo as the model's input.

    Returns float32 ``3 x size x size`` holding ``(pixel / 255 - mean) / std``; the steps are in the module's
    docstring.
    """
    height, width = rgb.shape[:2]
    x, y, w, h = bbox
    pad = crops.crop_padding
    x, y, w, h = x - w * pad, y - h * pad, w * (1 + 2 * pad), h * (1 + 2 * pad)
    if family == "deepfaune":
        corners = (x * width, y * height, (x + w) * width, (y + h) * height)
        left, top, right, bottom = square_crop_box(corners, width, height)
    elif family == "speciesnet":
        left, top, right, bottom = crop_box((x, y, w, h), width, height)
    else:
        left, top, right, bottom = _touched_pixels((x, y, w, h), width, height)
    pixels = _resize(np.ascontiguousarray(rgb[top:bottom, left:right]), size, crops.resize, family)
    mean = np.asarray(crops.mean, dtype=np.float32)
    std = np.asarray(crops.std, dtype=np.float32)
    normalised = (pixels / np.float32(255.0) - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1), dtype=np.float32)


def _touched_pixels(bbox: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """Every pixel the box touches, clipped to the photo, at least one."""
    x, y, w, h = bbox
    left = min(max(math.floor(x * width + 1e-6), 0), width - 1)
    top = min(max(math.floor(y * height + 1e-6), 0), height - 1)
    right = min(math.ceil((x + w) * width - 1e-6), width)
    bottom = min(math.ceil((y + h) * height - 1e-6), height)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def _resize(crop: np.ndarray, size: int, mode: str, family: str) -> np.ndarray:
    """The crop as ``size x size x 3`` float32 pixels (0..255) by the manifest's resize mode."""
    height, width = crop.shape[:2]
    if mode == "center-crop":
        if width <= height:
            new_width, new_height = size, int(size * height / width)
        else:
            new_width, new_height = int(size * width / height), size
        resized = _resample(crop, new_width, new_height, family)
        top, left = round((new_height - size) / 2), round((new_width - size) / 2)
        return resized[top : top + size, left : left + size]
    if mode == "letterbox":
        scale = size / max(width, height)
        new_width, new_height = max(1, round(width * scale)), max(1, round(height * scale))
        canvas = np.zeros((size, size, 3), dtype=np.float32)
        left, top = (size - new_width) // 2, (size - new_height) // 2
        canvas[top : top + new_height, left : left + new_width] = _resample(crop, new_width, new_height, family)
        return canvas
    return _resample(crop, size, size, family)


def _resample(crop: np.ndarray, width: int, height: int, family: str) -> np.ndarray:
    if family == "speciesnet":
        scaled = resize_bilinear(crop.astype(np.float32) / np.float32(255.0), width, height)
        return quantize(scaled).astype(np.float32)
    if crop.shape[:2] == (height, width):
        return crop.astype(np.float32)
    resample = Image.Resampling.BICUBIC if family == "deepfaune" else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(crop).resize((width, height), resample), dtype=np.float32)
