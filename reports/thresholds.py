"""Threshold expressions, in the k6 style: ``submit_p95_ms < 250``, ``error_ratio < 0.01``.

A scenario's ``[slo] thresholds`` lists them; the ``slo`` check judges each against the run's
figures, and with ``abort_on_fail`` the runner stops the swarm as soon as one is already lost
(:func:`evaluate` over what the ledger holds so far). One grammar, parsed here, for the
scenario's validation, the check and the runner: ``METRIC OP NUMBER``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: metric name -> what it measures (the slo check computes each from the run folder)
METRICS = {
    "submit_p50_ms": "service time of accepted submits, median (ms)",
    "submit_p95_ms": "service time of accepted submits, 95th percentile (ms)",
    "submit_p99_ms": "service time of accepted submits, 99th percentile (ms)",
    "error_ratio": "attempts a sender counts as failures, over all attempts",
    "e2e_p50_s": "accepted -> stored, median (s)",
    "e2e_p95_s": "accepted -> stored, 95th percentile (s)",
    "e2e_p99_s": "accepted -> stored, 99th percentile (s)",
}
OPS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}
_EXPR = re.compile(r"^\s*([a-z0-9_]+)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$")


class ThresholdError(ValueError):
    """An expression that is not ``METRIC OP NUMBER`` (the message says what is wrong)."""


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    bound: float

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def holds(self, value: float) -> bool:
        return OPS[self.op](value, self.bound)


def parse_threshold(text: str) -> Threshold:
    match = _EXPR.match(text) if isinstance(text, str) else None
    if not match:
        raise ThresholdError(f"{text!r} is not 'METRIC OP NUMBER' (e.g. 'submit_p95_ms < 250')")
    metric, op, bound = match.groups()
    if metric not in METRICS:
        raise ThresholdError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
    return Threshold(metric, op, float(bound))


def evaluate(thresholds: list[Threshold], figures: Mapping[str, float | None]
             ) -> tuple[list[str], list[str], list[str]]:
    """``(met, breached, not_judged)`` texts, e.g. ``"error_ratio 0.02 !< 0.01"``."""
    met, breached, unjudged = [], [], []
    for t in thresholds:
        value = figures.get(t.metric)
        if value is None:
            unjudged.append(f"{t.text} (no data)")
        elif t.holds(value):
            met.append(f"{t.metric} {value:g} {t.op} {t.bound:g}")
        else:
            breached.append(f"{t.metric} {value:g} !{t.op} {t.bound:g}")
    return met, breached, unjudged
