"""The swarm's own tally: what it sent and what came back, summed across workers.

This is the swarm's account of itself (``swarm.json``), not the verdict: the audit judges the
pipeline from the ledger and the store. The tally exists so a run can tell at a glance whether
the *swarm* did its job (every evacuee sent, how late, how many answers of each kind) and so the
master knows when the last evacuee is done. Workers keep a delta, ship it with their ledger
lines and start a new one; the master merges the deltas.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from exodus2045.locustfiles.percentiles import percentiles

COUNTS = (
    "sent", "finished", "attempts", "acknowledged", "rejected", "errors", "unexpected", "late",
)  # fmt: skip
LATE_AFTER_S = 1.0


def spread(values: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99/max, rounded to the microsecond."""
    out = percentiles(values)
    out["max"] = round(max(values), 3) if values else None
    return out


class SwarmTally:
    """Counts per evacuee outcome, plus the times to summarise.

    ``response_ms`` holds one value per finished evacuee (from its intended start to its final
    answer); ``latency_ms`` one per attempt (service time).
    """

    def __init__(self) -> None:
        self.counts = dict.fromkeys(COUNTS, 0)
        self.response_ms: list[float] = []
        self.latency_ms: list[float] = []

    def started(self, late_s: float) -> None:
        """Evacuee's first attempt is going out ``late_s`` after its intended start."""
        self.counts["sent"] += 1
        if late_s > LATE_AFTER_S:
            self.counts["late"] += 1

    def attempted(self, latency_ms: float, late_s: float | None = None) -> None:
        """One attempt answered; ``late_s`` given on an evacuee's first (see :meth:`started`)."""
        c = self.counts
        if late_s is not None:
            c["sent"] += 1
            if late_s > LATE_AFTER_S:
                c["late"] += 1
        c["attempts"] += 1
        self.latency_ms.append(latency_ms)

    def finished(self, status: int, expect: str, response_ms: float) -> None:
        """Evacuee's final answer: ``status`` after all its attempts."""
        c = self.counts
        c["finished"] += 1
        if status == 202:
            c["acknowledged"] += 1
        elif 400 <= status < 500:
            c["rejected"] += 1
        else:
            c["errors"] += 1
        if (expect == "accept") != (status == 202) or (expect == "reject" and status >= 500):
            c["unexpected"] += 1
        self.response_ms.append(response_ms)

    def is_empty(self) -> bool:
        return not any(self.counts.values())

    def to_message(self) -> dict[str, Any]:
        return {
            "counts": self.counts,
            "response_ms": self.response_ms,
            "latency_ms": self.latency_ms,
        }

    def merge(self, delta: Mapping[str, Any]) -> None:
        for key, value in delta.get("counts", {}).items():
            if key in self.counts:
                self.counts[key] += int(value)
        self.response_ms.extend(delta.get("response_ms", ()))
        self.latency_ms.extend(delta.get("latency_ms", ()))

    def summary(self, evacuees: int) -> dict[str, Any]:
        c = self.counts
        return {
            **c,
            "evacuees": evacuees,
            "dropped": max(0, evacuees - c["sent"]),
            "unfinished": max(0, c["sent"] - c["finished"]),
            "response_ms": spread(self.response_ms),
            "latency_ms": spread(self.latency_ms),
        }


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    """Write ``swarm.json`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
