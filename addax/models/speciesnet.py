"""SpeciesNet (Google, github.com/google/cameratrapai): its labels, geofence, crops and resampling.

From SpeciesNet's own code (Apache 2.0): ``classifier.py``, ``taxonomy_utils.py``, ``geofence_utils.py``,
``ensemble_prediction_combiner.py`` and ``constants.py``.

- Labels are ``uuid;class;order;family;genus;species;common name`` in lower case, one per output; a label may stop
  at a higher rank (``...;cervidae;;;deer family``). ``blank``, ``vehicle``, ``animal`` (``;;;;;;animal``), human
  (``...;homo;sapiens;human``) and ``no cv result`` have a special meaning.
- The crop classifier (``always_crop``, v4.0.1a) takes the box cut with ``int()`` of its normalised corner and
  size times the photo's size (``F.crop``), resized to 480 x 480 by torchvision's tensor ``resize`` (bilinear,
  half-pixel centres, ``antialias=False``), converted back to ``uint8`` (``convert_image_dtype``: the value times
  255.999, truncated) and divided by 255: channels last, no mean or std. Its output is logits (SpeciesNet applies
  the softmax). ``resize_bilinear`` and ``quantize`` reproduce those steps in numpy.
- The geofence (``geofence_release.json``) maps ``class;order;family;genus;species`` to ``{"allow": {country:
  [regions]}, "block": {country: [regions]}}``: a taxon is fenced out of a country that an ``allow`` list leaves
  out, or that a ``block`` list names without regions. Addax knows the country only (ISO 3166-1 alpha-3), not the
  first-level region, so rules about regions never fence (as SpeciesNet does without ``admin1_region``).
- Roll-up (``roll_up_labels_to_first_matching_level``): the scores are summed per genus, family, order, class and
  kingdom; the first level whose best sum passes the threshold (0.65 by default) names the animal, skipping taxa
  that the geofence excludes. A geofenced top label is rolled up from family upwards instead.

Where Addax differs (see ``classifiers.name_box``): sums run over every output, not only the five best that
SpeciesNet keeps; a sum that equals the threshold is enough (SpeciesNet wants more); a geofenced species is
dropped from the guesses wherever it ranks (SpeciesNet looks at the first guess only), its score still counting
from the family upwards; blank, vehicle, human and ``no cv result`` are never rolled up into an animal. The rest of
SpeciesNet's ensemble (combining with the detector's label and score) belongs to the pipeline, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from addax.models.manifest import CropPreparation

SPECIESNET_INPUT_SIZE = 480
SPECIESNET_CROPS = CropPreparation(resize="squash", outputs="logits")

#: roll-up levels, lowest first, and how many of the five rank fields each keeps
LEVELS = (("genus", 4), ("family", 3), ("order", 2), ("class", 1))
#: labels that are no animal: never rolled up, never counted in a roll-up
NOT_ANIMALS = frozenset({"blank", "vehicle", "human", "no cv result"})

Ranks = tuple[str, str, str, str, str]  # class, order, family, genus, species (lower case, "" when absent)


@dataclass(frozen=True, slots=True)
class Label:
    ranks: Ranks
    taxon: str  # "Capreolus capreolus", "Cervidae", "Animalia", or the common name of blank, vehicle...
    common_name: str | None
    animal: bool


def is_speciesnet_label(label: str) -> bool:
    return label.count(";") == 6


def parse_label(label: str) -> Label:
    """One 7-field label (``is_speciesnet_label``)."""
    fields = [part.strip() for part in label.split(";")]
    ranks: Ranks = (fields[1].lower(), fields[2].lower(), fields[3].lower(), fields[4].lower(), fields[5].lower())
    common = fields[6] or None
    if ranks[0] == "no cv result":
        return Label(ranks=("", "", "", "", ""), taxon="no cv result", common_name="no cv result", animal=False)
    if common == "human" or ranks[3:] == ("homo", "sapiens"):
        return Label(ranks=ranks, taxon="Homo sapiens", common_name=common, animal=False)
    if not ranks[0]:  # blank, vehicle, animal
        if common == "animal":
            return Label(ranks=ranks, taxon="Animalia", common_name="animal", animal=True)
        return Label(ranks=ranks, taxon=common or label, common_name=common, animal=False)
    return Label(ranks=ranks, taxon=taxon_name(ranks), common_name=common, animal=True)


def taxon_name(ranks: tuple[str, ...]) -> str:
    """The scientific name of the lowest rank given: ``Capreolus capreolus``, ``Capreolus``, ``Cervidae``."""
    present = [rank for rank in ranks if rank]
    if len(ranks) == 5 and ranks[3] and ranks[4]:
        return f"{ranks[3].capitalize()} {ranks[4]}"
    return present[-1].capitalize() if present else "Animalia"


def rank_key(ranks: Ranks, kept: int = 5) -> str:
    """The geofence's key of the taxon made of the first ``kept`` ranks: ``mammalia;cetartiodactyla;cervidae;;``."""
    return ";".join(ranks[:kept] + ("",) * (5 - kept))


@dataclass(frozen=True, slots=True)
class GeofenceRule:
    allow: frozenset[str] | None  # countries where the taxon lives (None: no allow list)
    block: frozenset[str]  # countries where it does not live at all


def parse_geofence(raw: Mapping[str, Any]) -> dict[str, GeofenceRule]:
    """``geofence_release.json`` as loaded by ``json.load``, by lower-case taxon key."""
    if not isinstance(raw, Mapping):
        raise ValueError("a geofence is a JSON object of taxon -> {allow, block}")
    rules: dict[str, GeofenceRule] = {}
    for key, rule in raw.items():
        if not isinstance(rule, Mapping) or key.count(";") != 4:
            raise ValueError(f"geofence entry {key!r} is not class;order;family;genus;species -> {{allow, block}}")
        allow = rule.get("allow")
        block = rule.get("block") or {}
        rules[key.lower()] = GeofenceRule(
            allow=frozenset(country.upper() for country in allow) if allow else None,
            block=frozenset(country.upper() for country, regions in block.items() if not regions),
        )
    return rules


def fenced_out(rule: GeofenceRule | None, country: str) -> bool:
    """Whether the rule keeps the taxon out of the country (SpeciesNet's check, without regions)."""
    if rule is None or not country:
        return False
    if rule.allow is not None and country not in rule.allow:
        return True
    return country in rule.block


def crop_box(bbox: tuple[float, float, float, float], width: int, height: int) -> tuple[int, int, int, int]:
    """SpeciesNet's ``F.crop`` of a normalised ``[x, y, w, h]`` box: ``(left, top, right, bottom)`` in pixels.

    Corner and size are truncated separately as SpeciesNet does; the result is cut at the photo's edges (where
    torchvision would pad with black: MegaDetector's boxes never leave the photo) and is at least one pixel.
    """
    x, y, w, h = bbox
    left, top = int(x * width), int(y * height)
    right, bottom = left + int(w * width), top + int(h * height)
    left, top = min(max(left, 0), width - 1), min(max(top, 0), height - 1)
    right, bottom = min(right, width), min(bottom, height)
    return left, top, max(right, left + 1), max(bottom, top + 1)


def resize_bilinear(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """``H x W x C`` floats to ``height x width x C`` as torch's bilinear ``interpolate`` without antialiasing.

    Half-pixel centres (``align_corners=False``): output pixel ``i`` samples the input at
    ``(i + 0.5) * in / out - 0.5``, clamped at 0, between its two neighbours.
    """
    rows = _weights(pixels.shape[0], height)
    columns = _weights(pixels.shape[1], width)
    low, high, frac = rows
    tall = pixels[low] * (1.0 - frac)[:, None, None] + pixels[high] * frac[:, None, None]
    low, high, frac = columns
    resized: np.ndarray = tall[:, low] * (1.0 - frac)[None, :, None] + tall[:, high] * frac[None, :, None]
    return resized


def _weights(size_in: int, size_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    source = (np.arange(size_out, dtype=np.float64) + 0.5) * (size_in / size_out) - 0.5
    source = np.maximum(source, 0.0)
    low = np.minimum(source.astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    return low, high, (source - low).astype(np.float32)


def quantize(pixels: np.ndarray) -> np.ndarray:
    """torchvision's ``convert_image_dtype`` of 0..1 floats to ``uint8``: times 255.999, truncated."""
    return np.clip(pixels * np.float32(255.999), 0, 255).astype(np.uint8)
