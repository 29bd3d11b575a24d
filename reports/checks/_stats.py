"""Percentiles, one definition for every check and figure.

Nearest-rank (the value below which q% of observations fall, taken from the data itself):
an SLO of "p95 <= 250 ms" then means "at most 5% of requests took longer than 250 ms",
which is what an operator reads it as, with no interpolated value that nobody observed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank q-th percentile (0 < q <= 100); None for no values."""
    data = sorted(values)
    if not data:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(data)))
    return data[min(rank, len(data)) - 1]


def percentiles(
    values: Iterable[float], qs: Sequence[float] = (50, 95, 99)
) -> dict[str, float | None]:
    """``{"p50": ..., "p95": ..., "p99": ...}`` rounded to 3 decimals (None when no values)."""
    data = sorted(values)
    out: dict[str, float | None] = {}
    for q in qs:
        value = percentile(data, q)
        out[f"p{q:g}"] = None if value is None else round(value, 3)
    return out
