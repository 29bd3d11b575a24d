"""The format registry, the shared words every format uses, and verdict.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.formats import (
    ReportFormat,
    UnknownFormat,
    all_formats,
    evidence_text,
    flatten_figures,
    format_value,
    get_format,
    ranked_failure_modes,
)
from exodus2045.reports.render import build_context, render_all
from exodus2045.reports.verdict import Verdict, VerdictError
from tests.golden_folder import make_golden_folder, verdict


def test_registry_has_one_format_per_file():
    formats = all_formats()
    assert [(f.name, f.filename) for f in formats] == [
        ("html", "report.html"), ("markdown", "summary.md"), ("junit", "junit.xml"),
        ("json", "verdict.json"),
    ]
    assert all(isinstance(f, ReportFormat) for f in formats)
    assert get_format("junit").filename == "junit.xml"


def test_unknown_format_is_an_exodus_error():
    with pytest.raises(UnknownFormat, match="known formats: html, markdown") as info:
        get_format("pdf")
    assert isinstance(info.value, ExodusError)


def test_verdict_json_is_canonical_and_round_trips(tmp_path: Path):
    run_dir = make_golden_folder(tmp_path)
    original = json.loads((run_dir / "verdict.json").read_text())
    text = get_format("json").render(build_context(run_dir, failure_modes=[]))
    assert json.loads(text) == original
    assert text == json.dumps(original, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize(
    ("check", "message"),
    [({"id": "x", "status": "weird", "summary": "s"}, "status 'weird'"),
     ({"id": "x", "status": "failed", "evidence": "text"}, "evidence must be a JSON object"),
     ({"id": "x", "status": "skipped", "summary": ""}, "must say why")],
)
def test_a_check_that_breaks_the_contract_is_refused_in_one_line(
    tmp_path: Path, check: dict, message: str
):
    """The model refuses what it cannot vouch for (exit 2), rather than render it as a pass."""
    run_dir = make_golden_folder(tmp_path, checks=[check])
    with pytest.raises(VerdictError, match=message) as info:
        render_all(run_dir, failure_modes=[])
    assert "verdict.json" in str(info.value) and "\n" not in str(info.value)


def test_an_early_version_1_check_with_only_passed_is_read():
    doc = verdict(schema_version=1)
    doc["checks"] = [{"id": "tally", "passed": False, "summary": "off by one", "evidence": {}}]
    assert Verdict.from_json(doc).check("tally").status == "failed"


def test_evidence_text_is_readable_and_complete():
    assert evidence_text({"missing": ["a", "b"], "missing_total": 2, "dup": []}) == (
        "dup: none; missing: a, b; missing_total: 2"
    )
    assert evidence_text({"pages": [{"file": "wall.html"}]}) == 'pages: [{"file": "wall.html"}]'
    assert evidence_text(None) == ""


def test_figures_flatten_sorted_with_stable_numbers():
    rows = list(flatten_figures({"b": {"p95": 228.0, "p50": 34.125}, "a": 65000, "c": None}))
    assert rows == [("a", "65,000"), ("b.p50", "34.125"), ("b.p95", "228"), ("c", "–")]
    assert format_value(0.1 + 0.2) == "0.3"


def test_failure_modes_rank_by_rpn_then_name():
    modes = [{"mode": "b", "rpn": 60}, {"mode": "a", "rpn": 60}, {"mode": "c", "rpn": 900}]
    assert [m["mode"] for m in ranked_failure_modes(modes)] == ["c", "a", "b"]
