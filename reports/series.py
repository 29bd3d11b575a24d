"""The plotted series of a run: ledger, store snapshot, metrics and timeline on one clock.

Apart from :mod:`exodus2045.reports.render` (which reads the folder and writes the files) because this
is arithmetic on plain rows, with no files involved: it can be tested row by row, and every
format draws from the same numbers. Time is seconds since ``run.json`` ``started_at`` (or
the first intended arrival when that is missing), in at most :data:`MAX_POINTS` buckets.
Percentiles are nearest-rank (:mod:`exodus2045.locustfiles.percentiles`), so every plotted
value is one that was observed; the output is deterministic, so a folder always renders to
the same bytes (the golden tests rely on it).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from exodus2045.locustfiles.percentiles import percentile
from exodus2045.reports.formats import Point, RunSeries, Window

DESTINATIONS = {"mars": "Mars", "jupiter": "Jupiter"}
MAX_POINTS = 120
#: The ledger fields the series read (:func:`derive_series`, :func:`origin_of`): the renderer
#: keeps only these of each line (:class:`LedgerPoint`); a 65k ledger's whole lines as dicts
#: would hold some 100 MB for nine values each.
LEDGER_FIELDS = (
    "wish_id", "destination", "expect", "attempt", "status", "intended_at", "sent_at",
    "latency_ms", "response_ms",
)  # fmt: skip
_FIELDS = frozenset(LEDGER_FIELDS)
_ABSENT = object()


class LedgerPoint:
    """One ledger line's :data:`LEDGER_FIELDS`, read like the line's own dict (``get``)."""

    __slots__ = LEDGER_FIELDS

    def __init__(self, line: Mapping[str, Any]) -> None:
        for name in LEDGER_FIELDS:
            setattr(self, name, line.get(name, _ABSENT))

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, key, _ABSENT) if key in _FIELDS else _ABSENT
        return default if value is _ABSENT else value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


class _Buckets:
    """Values grouped into fixed-width time buckets, read out as rates or percentiles."""

    def __init__(self, width: float) -> None:
        self.width = width
        self.values: dict[int, list[float]] = defaultdict(list)

    def add(self, t: float | None, value: float | None = 1.0) -> None:
        if t is not None and value is not None and t >= 0:
            self.values[int(t // self.width)].append(value)

    def rate(self) -> list[Point]:
        if not self.values:
            return []
        last = max(self.values)
        return [
            (i * self.width, round(len(self.values.get(i, ())) / self.width, 3))
            for i in range(last + 1)
        ]

    def pct(self, pct: float) -> list[Point]:
        return [(i * self.width, percentile(v, pct)) for i, v in sorted(self.values.items())]


def derive_series(
    run: Mapping[str, Any],
    ledger: Sequence[Mapping[str, Any] | LedgerPoint],
    snapshot: Sequence[Mapping[str, Any]],
    metrics: Sequence[Mapping[str, Any]],
    timeline: Sequence[Mapping[str, Any]],
    *,
    draft: RunSeries | None = None,
) -> RunSeries:
    """The plotted series, on one clock: seconds since run.json ``started_at``.

    ``draft`` is these series computed from the same rows before run.json had its final
    ``ended_at`` (:func:`exodus2045.reports.render.draft`): when the bucket width came out
    the same, only the span differs and the draft is used with it."""
    origin = origin_of(run, ledger)

    def rel(value: Any) -> float | None:
        number = _number(value)
        return None if number is None else number - origin

    ends = [rel(run.get("ended_at")) or 0.0]
    ends += [rel(row.get("sent_at")) or 0.0 for row in ledger]
    ends += [rel(row.get("stored_at")) or 0.0 for row in snapshot]
    ends += [_number(row.get("t")) or 0.0 for row in [*metrics, *timeline]]
    span = max(ends, default=0.0)
    width = float(max(1, math.ceil(span / MAX_POINTS)))
    if draft is not None and draft.bucket_s == width:
        return dataclasses.replace(draft, span_s=round(span, 3))

    arrivals, acks = _Buckets(width), _Buckets(width)
    latency, response, e2e = _Buckets(width), _Buckets(width), _Buckets(width)
    for row in ledger:
        if row.get("attempt", 1) == 1:
            arrivals.add(rel(row.get("intended_at")))
        sent = rel(row.get("sent_at"))
        service = _number(row.get("latency_ms"))
        if row.get("status") == 202 and sent is not None:
            acks.add(sent + (service or 0.0) / 1000)
        latency.add(sent, service)
        response.add(rel(row.get("intended_at")), _number(row.get("response_ms")))
    for wish in snapshot:
        stored, accepted = _number(wish.get("stored_at")), _number(wish.get("accepted_at"))
        if stored is not None and accepted is not None:
            e2e.add(stored - origin, round(stored - accepted, 6))

    return RunSeries(
        bucket_s=width,
        span_s=round(span, 3),
        arrivals=arrivals.rate(),
        acks=acks.rate(),
        latency_p50=latency.pct(50),
        latency_p95=latency.pct(95),
        response_p50=response.pct(50),
        response_p95=response.pct(95),
        e2e_p50=e2e.pct(50),
        e2e_p95=e2e.pct(95),
        queue_depths=queue_depths(metrics),
        destinations=destination_counts(ledger, snapshot),
        windows=fault_windows(timeline),
    )


def origin_of(run: Mapping[str, Any], ledger: Sequence[Mapping[str, Any] | LedgerPoint]) -> float:
    """The run's clock zero: run.json ``started_at``, else the first intended arrival."""
    origin = _number(run.get("started_at"))
    if origin is None:
        starts = [_number(row.get("intended_at")) for row in ledger]
        origin = min((s for s in starts if s is not None), default=0.0)
    return origin


def queue_depths(metrics: Iterable[Mapping[str, Any]]) -> dict[str, list[Point]]:
    """Per queue, visible + in-flight over time; a DLQ line only when it ever held anything."""
    depth: dict[str, list[Point]] = defaultdict(list)
    dlq: dict[str, list[Point]] = defaultdict(list)
    for sample in metrics:
        t, queues = _number(sample.get("t")), sample.get("queues")
        if t is None or not isinstance(queues, Mapping):
            continue
        for name, q in sorted(queues.items(), key=lambda item: str(item[0])):
            if isinstance(q, Mapping):
                held = (_number(q.get("visible")) or 0) + (_number(q.get("in_flight")) or 0)
                depth[str(name)].append((t, held))
                dlq[str(name)].append((t, _number(q.get("dlq")) or 0))
    lines = {f"{name}": points for name, points in depth.items()}
    for name, points in dlq.items():
        if any(y for _, y in points):
            lines[f"{name} DLQ"] = points
    return lines


def destination_counts(
    ledger: Iterable[Mapping[str, Any] | LedgerPoint], snapshot: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """Mars vs Jupiter: wishes meant to be accepted, acknowledged (any 202), and stored."""
    sent: dict[str, set[str]] = defaultdict(set)
    acked: dict[str, set[str]] = defaultdict(set)
    for row in ledger:
        dest, wish_id = str(row.get("destination") or "").lower(), str(row.get("wish_id"))
        if row.get("expect") == "accept":
            sent[dest].add(wish_id)
        if row.get("status") == 202:
            acked[dest].add(wish_id)
    stored: dict[str, int] = defaultdict(int)
    for wish in snapshot:
        stored[str(wish.get("destination") or "").lower()] += 1
    return {
        label: {"sent": len(sent[key]), "acknowledged": len(acked[key]), "stored": stored[key]}
        for key, label in DESTINATIONS.items()
    }


def fault_windows(timeline: Iterable[Mapping[str, Any]]) -> list[Window]:
    """Pair each ``on`` with the next ``off`` of the same fault and target."""
    open_: dict[tuple[str, str], list[float]] = defaultdict(list)
    windows: list[Window] = []
    events = [e for e in timeline if _number(e.get("t")) is not None]
    for event in sorted(events, key=lambda e: float(e["t"])):
        key = (str(event.get("fault") or "fault"), str(event.get("target") or "?"))
        if event.get("event") == "on":
            open_[key].append(float(event["t"]))
        elif event.get("event") == "off" and open_[key]:
            start = open_[key].pop(0)
            windows.append(Window(start, float(event["t"]), f"{key[0]} {key[1]}"))
    for key, starts in open_.items():
        windows.extend(Window(start, None, f"{key[0]} {key[1]}") for start in starts)
    return sorted(windows, key=lambda w: (w.start, w.label))
