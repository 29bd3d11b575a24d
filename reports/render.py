"""Render every report of a run folder from what the folder holds.

``render_all(run_dir)`` re-audits nothing: it reads verdict.json (the audit's word, through
:class:`exodus2045.reports.verdict.Verdict`, or takes the verdict the runner just judged) and
the evidence files (ledger, store snapshot, metrics, timeline, run.json), builds one
:class:`RenderContext` (its plotted series from :mod:`exodus2045.reports.series`) and hands it
to every registered format. The same folder always renders to the same bytes, so reports can
be regenerated later, diffed, and golden-tested.

Missing evidence is not an error (an HTTP-only run has no store snapshot; a run without
chaos has an empty timeline): charts say "no data". A missing folder or verdict is: there
is nothing to report on, so :class:`exodus2045.reports.verdict.VerdictError` says which and
the CLI exits 2.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.around import around_faults, read_logs
from exodus2045.reports.formats import RenderContext, RunSeries, all_formats
from exodus2045.reports.hops import HopBreakdown, breakdown
from exodus2045.reports.runfolder import RunData
from exodus2045.reports.series import LedgerPoint, derive_series, origin_of
from exodus2045.reports.verdict import Verdict

#: Evidence files a report links to when present (relative to the run folder).
EVIDENCE_FILES = (
    "run.json", "ledger.jsonl", "swarm.json", "timeline.jsonl", "metrics.jsonl",
    "store-snapshot.jsonl", "audience-snapshot.jsonl", "tally.json", "queues.json",
    "lookups.jsonl", "evidence.json", "pages/index.json", "pages/browser.json", "locust_stats.csv",
    "locust_stats_history.csv", "locust_failures.csv", "spans.jsonl", "events.jsonl",
)
FAILURE_MODE_FIELDS = (
    "mode", "check", "severity", "occurrence", "detection", "rpn", "evidence_count", "cause",
)


def render_all(
    run_dir: Path,
    *,
    verdict: Verdict | None = None,
    failure_modes: Sequence[Mapping[str, Any]] | None = None,
    run: RunData | None = None,
    drafted: Draft | None = None,
) -> list[Path]:
    """Write every format into ``run_dir``; return the paths written, in writing order.

    ``verdict`` is the one just judged (None reads verdict.json). ``failure_modes`` overrides
    the FMEA (None computes it with :mod:`exodus2045.reports.fmea`), so golden tests pin the
    table without depending on how another module ranks risk. ``run`` is the folder as the
    audit just read it: given, its store rows and its reading for the FMEA are used rather
    than reading those files again (the same bytes either way: tests/test_render_golden.py).
    ``drafted`` is a :func:`draft` made while the stack went down (the same bytes again).
    """
    ctx = build_context(run_dir, verdict=verdict, failure_modes=failure_modes, run=run,
                        drafted=drafted)
    written = []
    for fmt in all_formats():
        path = ctx.run_dir / fmt.filename
        _write_atomically(path, fmt.render(ctx))
        written.append(path)
    return written


@dataclass(frozen=True)
class Draft:
    """The costly part of a context (series and hop breakdown), computed while the stack
    still goes down: everything it reads is final except run.json ``ended_at``, which moves
    only the span and, rarely, the bucket width (then it is computed again)."""

    origin: float
    series: RunSeries
    hops: HopBreakdown


def draft(run_dir: Path, verdict: Verdict | None, run: RunData, ended_at: float) -> Draft:
    """A :class:`Draft` of ``run_dir`` as if run.json said ``ended_at`` (a lower bound).

    Nothing in it depends on the checks: ``verdict`` may be None (a draft made while the
    audit judges), and the run's id is then the one the verdict takes, ``run.run_id``."""
    inputs = _inputs(Path(run_dir), verdict, run, [])
    meta = {**inputs.meta, "ended_at": ended_at}
    series = derive_series(meta, inputs.ledger, inputs.snapshot, inputs.metrics,
                           inputs.timeline)
    origin = origin_of(meta, inputs.ledger)
    return Draft(origin, series, breakdown(inputs.own, origin, series.bucket_s, series.windows))


@dataclass(frozen=True)
class _Inputs:
    meta: dict[str, Any]
    ledger: Sequence[LedgerPoint]
    snapshot: list[dict[str, Any]]
    own: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    timeline: list[dict[str, Any]]


def _inputs(run_dir: Path, verdict: Verdict | None, data: RunData | None,
            notes: list[str]) -> _Inputs:
    run = _read_json(run_dir / "run.json", notes)
    if data is not None and data.points is not None:  # the audit's pass cut them already
        ledger: Sequence[LedgerPoint] = data.points
    else:
        ledger = read_ledger_points(run_dir / "ledger.jsonl", notes)
    if data is not None and data.store is not None:  # the audit read the same file whole
        snapshot = data.store or _looked_up(run_dir, notes)
    else:
        snapshot = read_jsonl(run_dir / "store-snapshot.jsonl", notes) or _looked_up(run_dir, notes)
    metrics = read_jsonl(run_dir / "metrics.jsonl", notes)
    timeline = read_jsonl(run_dir / "timeline.jsonl", notes)
    judged = verdict.run_id if verdict is not None else data.run_id if data is not None else None
    run_id = judged or run.get("run_id")
    own = [w for w in snapshot if run_id is None or w.get("run_id") == run_id]
    return _Inputs(run, ledger, snapshot, own, metrics, timeline)


def build_context(
    run_dir: Path,
    *,
    verdict: Verdict | None = None,
    failure_modes: Sequence[Mapping[str, Any]] | None = None,
    run: RunData | None = None,
    drafted: Draft | None = None,
) -> RenderContext:
    run_dir = Path(run_dir)
    data = run
    verdict = Verdict.load(run_dir) if verdict is None else verdict
    notes: list[str] = []
    inputs = _inputs(run_dir, verdict, data, notes)
    run, ledger, metrics, timeline = inputs.meta, inputs.ledger, inputs.metrics, inputs.timeline
    if failure_modes is None:
        modes = compute_failure_modes(verdict, run_dir, notes, data)
    else:
        modes = [dict(mode) for mode in failure_modes]
    origin = origin_of(run, ledger)
    if drafted is not None and drafted.origin != origin:
        drafted = None
    series = derive_series(run, ledger, inputs.snapshot, metrics, timeline,
                           draft=drafted.series if drafted else None)
    if drafted is not None and drafted.series.bucket_s == series.bucket_s:
        hops = drafted.hops
    else:
        hops = breakdown(inputs.own, origin, series.bucket_s, series.windows)
    events = read_jsonl(run_dir / "events.jsonl", notes)
    return RenderContext(
        run_dir=run_dir,
        verdict=verdict,
        run=run,
        series=series,
        metrics=metrics,
        timeline=timeline,
        failure_modes=modes,
        files=[name for name in EVIDENCE_FILES if (run_dir / name).is_file()],
        notes=notes,
        hops=hops,
        tracing="on" if (run_dir / "spans.jsonl").is_file() else "off",
        trace_sample=_trace_sample(run),
        around=around_faults(series.windows, events, read_logs(run_dir, origin), origin),
        clocks=_clocks(_read_json(run_dir / "swarm.json", notes)),
    )


def _trace_sample(run: dict[str, Any]) -> float:
    tracing = run.get("tracing")
    sample = tracing.get("sample") if isinstance(tracing, dict) else None
    return float(sample) if isinstance(sample, (int, float)) and 0 <= sample <= 1 else 1.0


def read_jsonl(path: Path, notes: list[str]) -> list[dict[str, Any]]:
    """Objects of a JSON-lines file; a torn line (a run killed mid-write) is noted, skipped."""
    return list(iter_jsonl(path, notes))


def read_ledger_points(path: Path, notes: list[str]) -> list[LedgerPoint]:
    """The ledger as the series read it, streamed: each line cut to :data:`LEDGER_FIELDS`."""
    return [LedgerPoint(row) for row in iter_jsonl(path, notes)]


def iter_jsonl(path: Path, notes: list[str]) -> Iterator[dict[str, Any]]:
    """:func:`read_jsonl` one object at a time (the note, if any, once the file is read)."""
    if not path.is_file():
        return
    bad = 0
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
                yield row
            else:
                bad += 1
    if bad:
        notes.append(f"{path.name}: skipped {bad} unreadable line(s)")


def _looked_up(run_dir: Path, notes: list[str]) -> list[dict[str, Any]]:
    """Without a store snapshot (an HTTP-only run), the wishes its lookups found still give
    the end-to-end chart its points: one row per acknowledged wish found stored."""
    rows = read_jsonl(run_dir / "lookups.jsonl", notes)
    return [r["wish"] for r in rows if r.get("found") and isinstance(r.get("wish"), dict)]


def _clocks(swarm: dict[str, Any]) -> dict[str, Any]:
    clocks = swarm.get("clocks")
    return clocks if isinstance(clocks, dict) else {}


def _read_json(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except json.JSONDecodeError:
        notes.append(f"{path.name}: unreadable, ignored")
        return {}
    return data if isinstance(data, dict) else {}


def compute_failure_modes(
    verdict: Verdict, run_dir: Path, notes: list[str], run: RunData | None = None
) -> list[dict[str, Any]] | None:
    """The FMEA table via :mod:`exodus2045.reports.fmea`, or None when its loader rejects a
    folder (a note says why): the renderers must still render what they can."""
    from exodus2045.reports import fmea, runfolder  # at call time: tests swap the FMEA in

    try:
        modes = fmea.failure_modes(verdict, run or runfolder.RunData.load(run_dir))
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
