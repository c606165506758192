"""Who may be seen: people and vehicles are hidden from users unless an admin looks at the original."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

PRIVATE_LABELS = frozenset({"person", "vehicle"})
#: Blur from here up: well below any alert threshold, as a missed blur cannot be taken back.
PRIVACY_MIN_SCORE = 0.2


def is_private(label: str, score: float) -> bool:
    return label in PRIVATE_LABELS and score >= PRIVACY_MIN_SCORE


def uncovered(verified: Iterable[tuple[int | None, str]], model: Mapping[int, tuple[str, float]]) -> bool:
    """Whether a person's verification names someone the blurred copies do not hide: a person or vehicle box
    drawn by hand or for the whole photo, or a model box relabelled as one that the model itself did not find
    private. ``verified``: (model box index or None, label); ``model``: index -> (label, score)."""
    for detection, label in verified:
        if label not in PRIVATE_LABELS:
            continue
        seen = model.get(detection) if detection is not None else None
        if seen is None or not is_private(*seen):
            return True
    return False
