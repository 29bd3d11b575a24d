"""Percentiles: one definition for the live view, the swarm's tally, the audit and the charts.

Nearest-rank: the q-th percentile of n values is the value at rank ``ceil(q/100 * n)`` (1-based,
at least 1) of the sorted values. It is always a value that was observed, never an
interpolation, so an SLO of "p95 <= 250 ms" means exactly "at most 5% of the requests took
longer than 250 ms", which is how an operator reads it. It lives in the swarm, the lowest
layer that needs one; the audit and the reports import it from here, so a live p95 and the
verdict's p95 of the same values are the same number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

DIGITS = 3  # figures are rounded to the microsecond (ms values) or millisecond (s values)


def percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank ``q``-th percentile (0 <= q <= 100) of ``values``; None when there are none."""
    ordered = values if isinstance(values, _Sorted) else sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


class _Sorted(list):
    """A list known to be sorted, so :func:`percentiles` sorts once for several q."""


def percentiles(
    values: Iterable[float], qs: Sequence[float] = (50, 95, 99), digits: int = DIGITS
) -> dict[str, float | None]:
    """``{"p50": ..., "p95": ..., "p99": ...}``, rounded to ``digits`` (None when no values)."""
    ordered = _Sorted(sorted(values))
    out: dict[str, float | None] = {}
    for q in qs:
        value = percentile(ordered, q)
        out[f"p{q:g}"] = None if value is None else round(value, digits)
    return out
