"""Watched segments as a union of closed intervals of video time (seconds).

Heartbeats report the ranges played since the previous one; their union is what the
student has seen. Ranges closer than ``GAP`` are joined: consecutive heartbeats meet at
a boundary that rounding can leave a hair apart.
"""

from __future__ import annotations

from collections.abc import Iterable

Range = tuple[float, float]
GAP = 0.5


def union(ranges: Iterable[Range], *, gap: float = GAP) -> list[Range]:
    """Sorted, disjoint ranges covering exactly the given ones (plus gaps shorter than ``gap``)."""
    merged: list[list[float]] = []
    for start, end in sorted((s, e) for s, e in ranges if e > s):
        if merged and start <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def measure(ranges: Iterable[Range]) -> float:
    """Total length of already-disjoint ranges."""
    return sum(e - s for s, e in ranges)


def contiguous_end(ranges: list[Range], *, start: float = 0.0, gap: float = GAP) -> float:
    """How far playback has run without a hole from ``start`` (``start`` if not at all)."""
    for s, e in ranges:
        if s <= start + gap and e >= start:
            return e
    return start
