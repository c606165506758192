"""Who may be seen: people and vehicles are hidden from users unless an admin looks at the original."""

from __future__ import annotations

PRIVATE_LABELS = frozenset({"person", "vehicle"})
#: Blur from here up: well below any alert threshold, as a missed blur cannot be taken back.
PRIVACY_MIN_SCORE = 0.2


def is_private(label: str, score: float) -> bool:
    return label in PRIVATE_LABELS and score >= PRIVACY_MIN_SCORE
