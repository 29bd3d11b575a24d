"""render_all and the context it builds: one clock, paired fault windows, clear errors."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from exodus2045 import reports
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.fmea import FailureMode
from exodus2045.reports.formats import Window
from exodus2045.reports.render import build_context, render_all
from exodus2045.reports.series import derive_series, fault_windows
from exodus2045.reports.verdict import VerdictError
from tests.golden_folder import make_golden_folder


def test_render_all_writes_every_format(tmp_path: Path):
    run_dir = make_golden_folder(tmp_path)
    written = render_all(run_dir, failure_modes=[])
    assert [p.name for p in written] == ["report.html", "summary.md", "junit.xml", "verdict.json"]
    assert all(p.parent == run_dir and p.stat().st_size > 0 for p in written)
    assert not list(run_dir.glob(".*.tmp"))


def test_series_share_the_run_clock(tmp_path: Path):
    ctx = build_context(make_golden_folder(tmp_path), failure_modes=[])
    s = ctx.series
    assert s.bucket_s == 1.0 and s.span_s == 23.0
    assert s.arrivals == [(float(t), 2.0) for t in range(20)]
    assert sum(y for _, y in s.acks) == 36  # one acknowledgement per accepted wish
    assert max(y for _, y in s.latency_p95) >= 200  # the parser outage
    assert list(s.queue_depths) == ["parsed", "wishes", "wishes DLQ"]
    assert s.destinations["Jupiter"] == {"sent": 12, "acknowledged": 12, "stored": 11}
    assert s.windows == [Window(8.0, 12.0, "kill parser"), Window(16.0, None, "kill pod-worker:0")]


def test_fault_windows_pair_on_with_next_off_per_fault_and_target():
    events = [
        {"t": 9, "event": "off", "fault": "pause", "target": "parser"},
        {"t": 1, "event": "on", "fault": "pause", "target": "parser"},
        {"t": 2, "event": "on", "fault": "latency", "target": "pod-worker/store.put"},
        {"t": 3, "event": "note", "fault": None, "target": None},
        {"t": 4, "event": "off", "fault": "kill", "target": "frontend"},
        {"t": 5, "event": "on", "fault": "pause", "target": "parser"},
        {"t": "x", "event": "on", "fault": "kill", "target": "parser"},
    ]
    assert fault_windows(events) == [
        Window(1.0, 9.0, "pause parser"),
        Window(2.0, None, "latency pod-worker/store.put"),
        Window(5.0, None, "pause parser"),
    ]


def test_long_runs_get_wider_buckets():
    run = {"started_at": 0.0, "ended_at": 1000.0}
    ledger = [{"intended_at": float(t), "attempt": 1} for t in range(1000)]
    series = derive_series(run, ledger, [], [], [])
    assert series.bucket_s == 9.0 and len(series.arrivals) <= 120
    assert {y for _, y in series.arrivals[:-1]} == {1.0}


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: d.rmdir(), "no such run folder"),
        (lambda d: None, "no verdict.json"),
        (lambda d: (d / "verdict.json").write_text("{not json"), "unreadable verdict"),
        (lambda d: (d / "verdict.json").write_text("[1, 2]"), "not a verdict"),
    ],
)
def test_missing_folder_or_verdict_is_a_one_line_error(tmp_path: Path, setup, message: str):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    setup(run_dir)
    with pytest.raises(VerdictError, match=message) as info:
        render_all(run_dir)
    assert isinstance(info.value, ExodusError) and "\n" not in str(info.value)


def test_torn_lines_and_missing_evidence_still_render(tmp_path: Path):
    run_dir = make_golden_folder(tmp_path)
    with (run_dir / "ledger.jsonl").open("a") as f:
        f.write('{"wish_id": "torn", "sta')
    (run_dir / "metrics.jsonl").unlink()
    (run_dir / "store-snapshot.jsonl").unlink()
    render_all(run_dir, failure_modes=[])
    html = (run_dir / "report.html").read_text()
    assert "ledger.jsonl: skipped 1 unreadable line(s)" in html
    assert html.count(">no data</text>") == 2  # end-to-end latency and queue depths


def test_fmea_that_cannot_judge_is_said_in_words(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    def failure_modes(verdict, run):
        raise ExodusError("the folder has no timeline")

    fake = types.ModuleType("exodus2045.reports.fmea")
    fake.failure_modes = failure_modes
    monkeypatch.setattr(reports, "fmea", fake, raising=False)
    monkeypatch.setitem(sys.modules, "exodus2045.reports.fmea", fake)
    run_dir = make_golden_folder(tmp_path)
    render_all(run_dir)
    assert "No failure modes computed." in (run_dir / "report.html").read_text()
    assert "No failure modes computed." in (run_dir / "summary.md").read_text()


def test_fmea_is_asked_with_the_verdict_and_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from exodus2045.reports.runfolder import RunData
    from exodus2045.reports.verdict import Verdict

    calls = []

    def failure_modes(verdict, run):
        calls.append((verdict, run))
        return [FailureMode("low", "tally", 2, 2, 2, 8, 0, "x"), FailureMode("high", "exactly-once", 10, 5, 4,
                                                                  200, 1, "lost <wish>")]

    fake = types.ModuleType("exodus2045.reports.fmea")
    fake.failure_modes = failure_modes
    monkeypatch.setattr(reports, "fmea", fake, raising=False)
    monkeypatch.setitem(sys.modules, "exodus2045.reports.fmea", fake)
    run_dir = make_golden_folder(tmp_path)
    render_all(run_dir)
    (verdict, run), = calls
    assert isinstance(verdict, Verdict) and isinstance(run, RunData)
    summary = (run_dir / "summary.md").read_text()
    assert summary.index("| 1 | high |") < summary.index("| 2 | low |")
    assert "lost &lt;wish&gt;" in summary


def test_rendering_twice_gives_the_same_bytes(tmp_path: Path):
    run_dir = make_golden_folder(tmp_path)
    first = {p.name: p.read_bytes() for p in render_all(run_dir, failure_modes=[])}
    second = {p.name: p.read_bytes() for p in render_all(run_dir, failure_modes=[])}
    assert first == second
    assert json.loads(first["verdict.json"])["run_id"] == "r-golden"


def test_the_renderers_cut_ledger_lines_read_like_the_lines() -> None:
    """render keeps only the series' fields of each ledger line (LedgerPoint); absent fields,
    nulls and odd values read back exactly as the line's dict gives them."""
    from exodus2045.reports.series import LEDGER_FIELDS, LedgerPoint, origin_of

    lines = [
        {"wish_id": "a", "destination": "Mars", "expect": "accept", "attempt": 1, "status": 202,
         "intended_at": 100.0, "sent_at": 100.5, "latency_ms": 3.0, "response_ms": 503.0,
         "trace_id": "t", "run_id": "r"},
        {"wish_id": "b", "status": 503, "sent_at": 101.0, "latency_ms": None},  # fields absent
        {"wish_id": "b", "attempt": 2, "status": 202, "intended_at": True, "sent_at": 102.0,
         "expect": "accept", "destination": "jupiter", "response_ms": float("inf")},
    ]
    points = [LedgerPoint(line) for line in lines]
    for line, point in zip(lines, points, strict=True):
        for key in (*LEDGER_FIELDS, "trace_id", "nope"):
            assert point.get(key) == (line.get(key) if key in LEDGER_FIELDS else None)
            assert point.get(key, 7) == (line.get(key, 7) if key in LEDGER_FIELDS else 7)
    run = {"started_at": 99.0, "ended_at": 110.0}
    assert derive_series(run, points, [], [], []) == derive_series(run, lines, [], [], [])
    assert origin_of({}, points) == origin_of({}, lines) == 100.0
