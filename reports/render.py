"""Render every report of a run folder from what the folder holds.

``render_all(run_dir)`` re-audits nothing: it reads verdict.json (the audit's word) and the
evidence files (ledger, store snapshot, metrics, timeline, run.json), builds one
:class:`RenderContext` and hands it to every registered format. The same folder always
renders to the same bytes, so reports can be regenerated later, diffed, and golden-tested.

Missing evidence is not an error (an HTTP-only run has no store snapshot; a run without
chaos has an empty timeline): charts say "no data". A missing folder or verdict is: there
is nothing to report on, so :class:`ReportError` says which and the CLI exits 2.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from app_under_test.errors import ExodusError
from reports.formats import Point, RenderContext, RunSeries, Window, all_formats

#: Evidence files a report links to when present (relative to the run folder).
EVIDENCE_FILES = (
    "run.json", "ledger.jsonl", "swarm.json", "timeline.jsonl", "metrics.jsonl",
    "store-snapshot.jsonl", "audience-snapshot.jsonl", "tally.json", "queues.json",
    "pages/index.json", "pages/browser.json", "locust_stats.csv",
    "locust_stats_history.csv", "locust_failures.csv",
)
DESTINATIONS = {"mars": "Mars", "jupiter": "Jupiter"}
MAX_POINTS = 120
FAILURE_MODE_FIELDS = (
    "mode", "check", "severity", "occurrence", "detection", "rpn", "evidence_count", "cause",
)


class ReportError(ExodusError):
    """The run folder cannot be rendered: it is missing, or has no readable verdict.json."""


def render_all(
    run_dir: Path, *, failure_modes: Sequence[Mapping[str, Any]] | None = None
) -> list[Path]:
    """Write every format into ``run_dir``; return the paths written, in writing order.

    ``failure_modes`` overrides the FMEA (None computes it with :mod:`reports.fmea`), so
    golden tests pin the table without depending on how another module ranks risk.
    """
    ctx = build_context(run_dir, failure_modes=failure_modes)
    written = []
    for fmt in all_formats():
        path = ctx.run_dir / fmt.filename
        _write_atomically(path, fmt.render(ctx))
        written.append(path)
    return written


def build_context(
    run_dir: Path, *, failure_modes: Sequence[Mapping[str, Any]] | None = None
) -> RenderContext:
    run_dir = Path(run_dir)
    verdict = load_verdict(run_dir)
    notes: list[str] = []
    run = _read_json(run_dir / "run.json", notes)
    ledger = read_jsonl(run_dir / "ledger.jsonl", notes)
    snapshot = read_jsonl(run_dir / "store-snapshot.jsonl", notes)
    metrics = read_jsonl(run_dir / "metrics.jsonl", notes)
    timeline = read_jsonl(run_dir / "timeline.jsonl", notes)
    if failure_modes is None:
        modes = compute_failure_modes(verdict, run_dir, notes)
    else:
        modes = [dict(mode) for mode in failure_modes]
    return RenderContext(
        run_dir=run_dir,
        verdict=verdict,
        run=run,
        series=derive_series(run, ledger, snapshot, metrics, timeline),
        metrics=metrics,
        timeline=timeline,
        failure_modes=modes,
        files=[name for name in EVIDENCE_FILES if (run_dir / name).is_file()],
        notes=notes,
    )


def load_verdict(run_dir: Path) -> dict[str, Any]:
    """verdict.json as a dict, or a one-line :class:`ReportError` naming what is wrong."""
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run folder")
    path = run_dir / "verdict.json"
    if not path.is_file():
        raise ReportError(f"{path}: no verdict.json (audit the run first: nothing to report)")
    try:
        verdict = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: unreadable verdict ({exc})") from None
    if not isinstance(verdict, dict) or not isinstance(verdict.get("checks", []), list):
        raise ReportError(f"{path}: not a verdict (expected an object with a checks list)")
    return verdict


def read_jsonl(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """Objects of a JSON-lines file; a torn line (a run killed mid-write) is noted, skipped."""
    if not path.is_file():
        return []
    rows, bad = [], 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad += 1
    if bad:
        notes.append(f"{path.name}: skipped {bad} unreadable line(s)")
    return rows


def _read_json(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError:
        notes.append(f"{path.name}: unreadable, ignored")
        return {}
    return data if isinstance(data, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile: always a value that was observed, never an interpolation."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


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
    ledger: Sequence[Mapping[str, Any]],
    snapshot: Sequence[Mapping[str, Any]],
    metrics: Sequence[Mapping[str, Any]],
    timeline: Sequence[Mapping[str, Any]],
) -> RunSeries:
    """The plotted series, on one clock: seconds since run.json ``started_at``."""
    origin = _number(run.get("started_at"))
    if origin is None:
        starts = [_number(row.get("intended_at")) for row in ledger]
        origin = min((s for s in starts if s is not None), default=0.0)

    def rel(value: Any) -> float | None:
        number = _number(value)
        return None if number is None else number - origin

    ends = [rel(run.get("ended_at")) or 0.0]
    ends += [rel(row.get("sent_at")) or 0.0 for row in ledger]
    ends += [rel(row.get("stored_at")) or 0.0 for row in snapshot]
    ends += [_number(row.get("t")) or 0.0 for row in [*metrics, *timeline]]
    span = max(ends, default=0.0)
    width = float(max(1, math.ceil(span / MAX_POINTS)))

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
    ledger: Iterable[Mapping[str, Any]], snapshot: Iterable[Mapping[str, Any]]
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


def compute_failure_modes(
    verdict: dict[str, Any], run_dir: Path, notes: list[str]
) -> list[dict[str, Any]] | None:
    """The FMEA table via :mod:`reports.fmea`, or None when that module is not there.

    Imported lazily: the renderers must work (and say "no failure modes computed") in a
    tree where the FMEA is absent, and must not break when its loader rejects a folder.
    """
    try:
        from reports import fmea, runfolder
        from reports.verdict import Verdict
    except ModuleNotFoundError as exc:
        if exc.name in ("reports.fmea", "reports.runfolder", "reports.verdict"):
            return None
        raise
    try:
        modes = fmea.failure_modes(Verdict.from_json(verdict), runfolder.RunData.load(run_dir))
    except ExodusError as exc:
        notes.append(f"failure modes not computed: {exc}")
        return None
    return [_mode_dict(mode) for mode in modes]


def _mode_dict(mode: Any) -> dict[str, Any]:
    if isinstance(mode, Mapping):
        return dict(mode)
    if dataclasses.is_dataclass(mode) and not isinstance(mode, type):
        return dataclasses.asdict(mode)
    return {name: getattr(mode, name, None) for name in FAILURE_MODE_FIELDS}


def _write_atomically(path: Path, text: str) -> None:
    """Write beside, then rename: a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(text.encode("utf-8", errors="replace"))
    os.replace(tmp, path)
