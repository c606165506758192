"""Byte counts as people read them: decimal units, as disks and buckets are sold."""

from __future__ import annotations

GB = 1000**3  # decimal: config's gigabytes (storage.hot_budget_gb) are the ones size_text prints


def size_text(size: float) -> str:
    """``950 B``, ``1.5 KB`` ... ``3.2 TB``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
