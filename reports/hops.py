"""Where the time went: the per-hop breakdown of a run, from the stored wishes' hop times.

Each stored wish carries six timestamps (docs/run-folder.md "store-snapshot.jsonl"):
``accepted_at`` (the request arrived) -> ``enqueued_at`` (the wishes queue's SentTimestamp)
-> ``parse_started_at`` -> ``parsed_at`` -> ``store_started_at`` -> ``stored_at``. The five
gaps are the hops: accept (incl. the durable enqueue), queue wait 1, parse, queue wait 2,
store. They come from the store snapshot, not from spans, so the breakdown is the same with
or without an OpenTelemetry SDK and on AWS. The audit reads the field names here, on its own
(it never imports the pipeline).

Attribution: a wish is *touched* by a fault window when its journey [accepted, stored]
overlaps the window. For each window, the hop whose median grew most over the untouched
wishes' median is the hop that carried the fault. Relative, never absolute, on purpose: a
slow machine moves every hop, a fault moves one.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exodus2045.locustfiles.percentiles import percentile, percentiles
from exodus2045.reports.formats import Point, Window

HOP_TIMES = (
    "accepted_at", "enqueued_at", "parse_started_at", "parsed_at", "store_started_at", "stored_at",
)  # fmt: skip
HOPS = ("accept", "queue_wait_1", "parse", "queue_wait_2", "store")
HOP_NAMES = {
    "accept": "accept (incl. durable enqueue)", "queue_wait_1": "queue wait 1",
    "parse": "parse", "queue_wait_2": "queue wait 2", "store": "store",
}
SHORT_NAMES = {**HOP_NAMES, "accept": "accept"}
PCTS = (50, 95, 99)
SLOWEST = 10
OPEN_WINDOW_S = 3.0  # a fault with no ``off`` (a one-shot kill): judged over its first 3 s
MOVED_MIN_S = 0.001  # a median that grew less than this did not move


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def hop_durations(wish: Mapping[str, Any]) -> dict[str, float] | None:
    """The five hop durations (seconds) of a stored wish; None if a timestamp is missing.

    SentTimestamp is whole milliseconds, so a hop can come out a hair below zero: clamped.
    """
    times: list[float] = []
    for key in HOP_TIMES:
        value = wish.get(key)
        # a float is its own _number when finite (the common case, without the call)
        t = value if type(value) is float and math.isfinite(value) else _number(value)
        if t is None:
            return None
        times.append(t)
    return {hop: max(0.0, times[i + 1] - times[i]) for i, hop in enumerate(HOPS)}


def _stats(values: Sequence[float]) -> dict[str, float]:
    return percentiles(values, PCTS, digits=6) if values else {}  # type: ignore[return-value]


@dataclass(frozen=True)
class Traced:
    wish_id: str
    trace_id: str | None
    accepted: float  # seconds since run start
    stored: float
    hops: dict[str, float]

    @property
    def total(self) -> float:
        return sum(self.hops.values())


@dataclass(frozen=True)
class WindowShare:
    """One fault window: the touched wishes' hop percentiles and the hop that moved most."""

    label: str
    start: float
    end: float | None
    wishes: int
    hops: dict[str, dict[str, float]]
    moved: str | None  # the hop whose median grew most over the baseline
    moved_by_s: float | None


@dataclass(frozen=True)
class HopBreakdown:
    wishes: int = 0  # stored wishes that carry all six hop times
    stored: int = 0  # stored wishes of the run
    overall: dict[str, dict[str, float]] = field(default_factory=dict)
    over_time: dict[str, list[Point]] = field(default_factory=dict)  # hop -> (t, p50)
    windows: list[WindowShare] = field(default_factory=list)
    slowest: list[Traced] = field(default_factory=list)

    @property
    def dominant(self) -> str | None:
        """The hop with the largest p95 over the run."""
        if not self.overall:
            return None
        return max(HOPS, key=lambda h: self.overall.get(h, {}).get("p95", 0.0))

    def where(self) -> str:
        """One line: where the time went (the same words in every format)."""
        if not self.wishes:
            return ("no per-hop times: the stored wishes carry no hop timestamps"
                    if self.stored else "no per-hop times: nothing was stored")
        parts = [f"{SHORT_NAMES[h]} {seconds(self.overall[h]['p95'])}" for h in HOPS
                 if h in self.overall]
        line = f"most in {SHORT_NAMES[self.dominant or 'accept']} (p95 per hop: {', '.join(parts)})"
        for w in self.windows:
            if w.moved is not None and w.moved_by_s is not None:
                line += (f"; during {w.label}: {SHORT_NAMES[w.moved]} "
                         f"{seconds(w.moved_by_s, signed=True)} (median)")
        return line


def seconds(value: float | None, signed: bool = False) -> str:
    """A duration as a reader wants it: ``12 s``, ``2.1 s``, ``340 ms``, ``0.42 ms``."""
    if value is None:
        return "–"
    sign = ("+" if value >= 0 else "−") if signed else ("−" if value < 0 else "")
    value = abs(value)
    if value >= 10:
        text = f"{value:.0f} s"
    elif value >= 1:
        text = f"{value:.1f} s"
    else:
        text = f"{value * 1000:.0f} ms" if value >= 0.001 else f"{value * 1000:.2f} ms"
    return sign + text


def breakdown(
    snapshot: Sequence[Mapping[str, Any]],
    origin: float,
    bucket_s: float,
    windows: Sequence[Window],
) -> HopBreakdown:
    traced: list[Traced] = []
    for wish in snapshot:
        hops = hop_durations(wish)
        if hops is None:
            continue
        traced.append(Traced(
            str(wish.get("wish_id")), wish.get("trace_id") if isinstance(
                wish.get("trace_id"), str) else None,
            float(wish["accepted_at"]) - origin, float(wish["stored_at"]) - origin, hops,
        ))
    if not traced:
        return HopBreakdown(stored=len(snapshot))
    overall = {h: _stats([t.hops[h] for t in traced]) for h in HOPS}
    buckets: dict[int, list[Traced]] = defaultdict(list)
    for t in traced:
        if t.accepted >= 0:
            buckets[int(t.accepted // bucket_s)].append(t)
    over_time = {
        h: [(i * bucket_s, percentile([t.hops[h] for t in group], 50))
            for i, group in sorted(buckets.items())]
        for h in HOPS
    }
    shares = [_window_share(w, traced) for w in windows]
    slowest = heapq.nsmallest(SLOWEST, traced, key=_slowest_first)  # == sorted(...)[:SLOWEST]
    return HopBreakdown(len(traced), len(snapshot), overall, over_time, shares, slowest)


def _slowest_first(t: Traced) -> tuple[float, str]:
    return -t.total, t.wish_id


def _window_share(window: Window, traced: Sequence[Traced]) -> WindowShare:
    end = window.end if window.end is not None else window.start + OPEN_WINDOW_S
    touched = [t for t in traced if t.accepted <= end and t.stored >= window.start]
    baseline = [t for t in traced if t.stored < window.start or t.accepted > end]
    hops = {h: _stats([t.hops[h] for t in touched]) for h in HOPS} if touched else {}
    moved, by = None, None
    if touched and baseline:
        deltas = {h: percentile([t.hops[h] for t in touched], 50)
                  - percentile([t.hops[h] for t in baseline], 50) for h in HOPS}
        top = max(HOPS, key=lambda h: deltas[h])
        if deltas[top] >= MOVED_MIN_S:
            moved, by = top, round(deltas[top], 6)
    return WindowShare(window.label, window.start, window.end, len(touched), hops, moved, by)
