"""What a person says a photo shows, from the JSON of ``PATCH /api/images/{id}/verification``.

Three shapes of body, every error naming its JSON field (``boxes[1].bbox``):

- flat, for the whole photo: ``{"taxon" (or "species"): "Cervus elaphus", "common_name": "red deer",
  "label": "animal", "count": 2, "notes": "..."}``, or ``{"blank": true}``;
- per box: ``{"boxes": [{"detection": 0, "taxon": ...}, {"detection": null, "bbox": [x, y, w, h], ...}],
  "blank": false, "individuals": 3, "notes": "..."}``; a model box left out of the list was wrong; a box with
  ``"detection": null, "bbox": null`` is said of the whole photo (as the flat shape stores it);
- ``{"confirm": true}``: the model was right, every box at or above the project's threshold with its top-1.

A verification wins over the model everywhere: its ``labels`` and ``taxa`` become the photo's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from addax.domain.field_errors import FieldError
from addax.domain.megadetector import LABELS as LABELS  # re-exported: the labels a box can have

MAX_NOTES = 2000
MAX_NAME = 200
MAX_COUNT = 1000
_FLAT = frozenset({"taxon", "species", "common_name", "label", "count", "notes", "blank"})
_PER_BOX = frozenset({"boxes", "blank", "individuals", "notes"})
_CONFIRM = frozenset({"confirm", "notes"})
_BOX = frozenset({"detection", "label", "taxon", "species", "common_name", "count", "bbox"})


class VerificationError(FieldError):
    """A verification body is wrong; ``field`` names the culprit as the JSON spells it."""


@dataclass(frozen=True, slots=True)
class ModelBox:
    """A box of the detector with its classifier's top-1, as the parser needs it."""

    index: int
    label: str
    score: float
    bbox: tuple[float, float, float, float]
    taxon: str | None = None
    common_name: str | None = None


@dataclass(frozen=True, slots=True)
class VerifiedBox:
    detection: int | None  # the model's box index; None: a box the model missed, or the whole photo
    label: str
    taxon: str | None
    common_name: str | None
    count: int
    bbox: tuple[float, float, float, float] | None  # None: the whole photo

    def to_json(self) -> dict[str, Any]:
        return {
            "detection": self.detection,
            "label": self.label,
            "taxon": self.taxon,
            "common_name": self.common_name,
            "count": self.count,
            "bbox": list(self.bbox) if self.bbox is not None else None,
        }


@dataclass(frozen=True, slots=True)
class Verification:
    boxes: tuple[VerifiedBox, ...]
    blank: bool = False
    individuals: int | None = None
    notes: str = ""

    @property
    def labels(self) -> list[str]:
        return [] if self.blank else sorted({box.label for box in self.boxes})

    @property
    def taxa(self) -> list[str]:
        return [] if self.blank else sorted({box.taxon for box in self.boxes if box.taxon})

    def boxes_json(self) -> list[dict[str, Any]]:
        return [box.to_json() for box in self.boxes]


def verification_from_row(
    boxes: Sequence[Mapping[str, Any]], *, blank: bool, individuals: int | None, notes: str
) -> Verification:
    """The stored verification back as a value (the jsonb ``boxes`` were written by ``boxes_json``)."""
    return Verification(
        boxes=tuple(
            VerifiedBox(
                detection=box.get("detection"),
                label=box["label"],
                taxon=box.get("taxon"),
                common_name=box.get("common_name"),
                count=int(box.get("count", 1)),
                bbox=tuple(box["bbox"]) if box.get("bbox") is not None else None,
            )
            for box in boxes
        ),
        blank=blank,
        individuals=individuals,
        notes=notes,
    )


def parse_verification(body: Any, detections: Sequence[ModelBox], *, threshold: float = 0.5) -> Verification:
    """The verification a body asks for, checked against the photo's model boxes (``detections``)."""
    if not isinstance(body, Mapping):
        raise VerificationError("body", "must be a JSON object")
    if "confirm" in body:
        return _confirmed(body, detections, threshold)
    if "boxes" in body:
        return _per_box(body, detections)
    return _flat(body, detections, threshold)


def _confirmed(body: Mapping[str, Any], detections: Sequence[ModelBox], threshold: float) -> Verification:
    _known(body, _CONFIRM)
    if body["confirm"] is not True:
        raise VerificationError("confirm", "must be true (to undo a verification, DELETE it)")
    boxes = tuple(
        VerifiedBox(box.index, box.label, box.taxon, box.common_name, 1, box.bbox)
        for box in sorted(detections, key=lambda box: box.index)
        if box.score >= threshold
    )
    return Verification(boxes=boxes, blank=not boxes, notes=_notes(body))


def _flat(body: Mapping[str, Any], detections: Sequence[ModelBox], threshold: float) -> Verification:
    _known(body, _FLAT)
    blank = _boolean(body.get("blank", False), "blank")
    if "taxon" in body and "species" in body:
        raise VerificationError("species", "give taxon or species, not both")
    taxon_field = "species" if "species" in body else "taxon"
    taxon = _name(body.get(taxon_field), taxon_field)
    label = _label(body["label"], "label") if "label" in body else None
    if blank:
        if taxon is not None or label is not None or "count" in body:
            raise VerificationError("blank", "a blank photo has no taxon, label or count")
        return Verification(boxes=(), blank=True, notes=_notes(body))
    if taxon is None and label is None:
        raise VerificationError("taxon", "required (or label, or blank: true)")
    label = label or "animal"
    seen = [box for box in detections if box.score >= threshold and box.label == label]
    count = _count(body["count"], "count") if "count" in body else max(len(seen), 1)
    common_name = _name(body.get("common_name"), "common_name") or _common_name_of(taxon, detections)
    whole = VerifiedBox(None, label, taxon, common_name, count, None)
    return Verification(boxes=(whole,), individuals=count, notes=_notes(body))


def _per_box(body: Mapping[str, Any], detections: Sequence[ModelBox]) -> Verification:
    _known(body, _PER_BOX)
    items = body["boxes"]
    if not isinstance(items, list):
        raise VerificationError("boxes", "must be a list")
    by_index = {box.index: box for box in detections}
    boxes: list[VerifiedBox] = []
    for position, item in enumerate(items):
        box = _box(item, f"boxes[{position}]", by_index)
        if box.detection is not None and any(other.detection == box.detection for other in boxes):
            raise VerificationError(f"boxes[{position}].detection", f"box {box.detection} is already listed")
        boxes.append(box)
    blank = _boolean(body.get("blank", False), "blank")
    if blank and boxes:
        raise VerificationError("blank", "a blank photo has no boxes")
    individuals = body.get("individuals")
    return Verification(
        boxes=tuple(boxes),
        blank=blank,
        individuals=_count(individuals, "individuals", least=0) if individuals is not None else None,
        notes=_notes(body),
    )


def _box(item: Any, field: str, by_index: Mapping[int, ModelBox]) -> VerifiedBox:
    if not isinstance(item, Mapping):
        raise VerificationError(field, "must be an object")
    _known(item, _BOX, prefix=f"{field}.")
    detection = item.get("detection")
    model: ModelBox | None = None
    if detection is not None:
        if isinstance(detection, bool) or not isinstance(detection, int):
            raise VerificationError(f"{field}.detection", "must be the index of a model box, or null")
        model = by_index.get(detection)
        if model is None:
            known = ", ".join(str(index) for index in sorted(by_index)) or "none"
            raise VerificationError(f"{field}.detection", f"no model box {detection} (this photo has: {known})")
    bbox: tuple[float, float, float, float] | None
    if item.get("bbox") is not None:
        bbox = _bbox(item["bbox"], f"{field}.bbox")
    elif model is not None:
        bbox = model.bbox
    elif "bbox" in item:
        bbox = None  # an explicit null: the whole photo
    else:
        raise VerificationError(f"{field}.bbox", "required for a box the model missed (null: the whole photo)")
    if "taxon" in item and "species" in item:
        raise VerificationError(f"{field}.species", "give taxon or species, not both")
    taxon_field = "species" if "species" in item else "taxon"
    taxon = _name(item.get(taxon_field), f"{field}.{taxon_field}")
    if "label" in item:
        label = _label(item["label"], f"{field}.label")
    else:
        label = "animal" if taxon is not None or model is None else model.label
    common_name = _name(item.get("common_name"), f"{field}.common_name")
    if common_name is None and model is not None and taxon is not None and taxon == model.taxon:
        common_name = model.common_name
    count = _count(item["count"], f"{field}.count") if "count" in item else 1
    return VerifiedBox(detection, label, taxon, common_name, count, bbox)


# --- fields ---------------------------------------------------------------------------------------------


def _known(body: Mapping[str, Any], allowed: frozenset[str], *, prefix: str = "") -> None:
    for key in body:
        if key not in allowed:
            raise VerificationError(f"{prefix}{key}", f"unknown field (expected one of {', '.join(sorted(allowed))})")


def _name(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise VerificationError(field, "must be a string")
    value = " ".join(value.split())
    if len(value) > MAX_NAME:
        raise VerificationError(field, f"at most {MAX_NAME} characters")
    return value or None


def _label(value: Any, field: str) -> str:
    if value not in LABELS:
        raise VerificationError(field, f"must be one of {', '.join(LABELS)}")
    return str(value)


def _count(value: Any, field: str, *, least: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VerificationError(field, "must be a whole number")
    if not least <= value <= MAX_COUNT:
        raise VerificationError(field, f"must be between {least} and {MAX_COUNT}")
    return value


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise VerificationError(field, "must be true or false")
    return value


def _notes(body: Mapping[str, Any]) -> str:
    notes = body.get("notes", "")
    if notes is None:
        return ""
    if not isinstance(notes, str):
        raise VerificationError("notes", "must be a string")
    if len(notes) > MAX_NOTES:
        raise VerificationError("notes", f"at most {MAX_NOTES} characters")
    return notes.strip()


def _bbox(value: Any, field: str) -> tuple[float, float, float, float]:
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise VerificationError(field, "must be [x, y, width, height]")
    numbers: list[float] = []
    for number in value:
        if isinstance(number, bool) or not isinstance(number, int | float) or not math.isfinite(number):
            raise VerificationError(field, "must hold four numbers")
        numbers.append(float(number))
    x, y, width, height = numbers
    if not (0 <= x <= 1 and 0 <= y <= 1 and 0 < width <= 1 and 0 < height <= 1):
        raise VerificationError(field, "x and y between 0 and 1, width and height above 0 (fractions of the photo)")
    if x + width > 1.0001 or y + height > 1.0001:
        raise VerificationError(field, "the box must lie inside the photo")
    return (x, y, width, height)


def _common_name_of(taxon: str | None, detections: Sequence[ModelBox]) -> str | None:
    return next((box.common_name for box in detections if taxon and box.taxon == taxon and box.common_name), None)


def species_from_text(text: str, known: Mapping[str, str | None]) -> tuple[str, str | None] | None:
    """(taxon, common name) from what someone typed or picked: a known taxon or common name (any case), or a new
    one written "red deer (Cervus elaphus)" or "Cervus elaphus (red deer)", or just a name. None: nothing typed.

    ``known``: taxon -> common name, the species seen in the project.
    """
    text = " ".join(text.split())
    if not text:
        return None
    for taxon, common_name in known.items():
        if text.lower() in (taxon.lower(), (common_name or "").lower()):
            return taxon, common_name
    before, bracket, after = text.partition(" (")
    if bracket and after.endswith(")"):
        inside = after[:-1].strip()
        # the scientific name is the capitalised one ("Cervus elaphus"); common names are written lower case
        if before[:1].isupper() and not inside[:1].isupper():
            return before, inside or None
        return inside or before, before if inside else None
    return text, None
