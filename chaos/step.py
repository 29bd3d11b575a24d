"""One step of a fault plan: which fault, where, when, for how long, how likely.

A step is data, owned by chaos because chaos is what acts on it: a scenario file's
``[[chaos]]`` table, ``exodus chaos apply`` and the presenter's chaos route each build one,
and :func:`exodus2045.chaos.plan.validate_step` checks it before anything runs. Times are
seconds (already parsed by :mod:`exodus2045.chaos.durations`); ``params`` holds the
fault-specific keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChaosStep:
    at_s: float
    fault: str
    target: str
    duration_s: float | None = None
    every_s: float | None = None
    probability: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
