"""The swarm's clocks in a report: each worker's offset from the master, as measured.

A distributed run's ``swarm.json`` carries ``clocks``: per worker, its clock minus the
master's, estimated by round trips (locustfiles/clock.py). Workers put their ledger times on
the master's clock with it, so the figures from intended start are corrected; what remains is
the estimate's uncertainty (half the best round trip), shown beside each offset so a reader
can tell whether a millisecond figure means a millisecond.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def clock_rows(clocks: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``("clock offset <worker>", "+3.001 s ± 0.4 ms, 12 samples; corrected")`` rows."""
    rows = []
    for node, estimate in sorted(clocks.items()):
        if not isinstance(estimate, Mapping):
            continue
        offset, uncertainty = estimate.get("offset_s"), estimate.get("uncertainty_s")
        if not isinstance(offset, int | float) or not isinstance(uncertainty, int | float):
            continue
        samples = estimate.get("samples")
        rows.append((f"clock offset {node}",
                     f"{offset:+.3f} s ± {uncertainty * 1000:.1f} ms, {samples} samples; "
                     "ledger times corrected onto the master's clock"))
    return rows
