"""summary.md renders nothing from the run, keeps its tables whole and stays under 1 MiB."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from exodus2045.reports.formats.markdown import FORMAT, md
from exodus2045.reports.render import build_context, render_all
from tests.golden_folder import GOLDEN_FAILURE_MODES, make_golden_folder

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "[click](javascript:alert(1))",
    "![x](https://evil.example/x.png)",
    "`code` | cell | break",
    "line one\nline two\r\nthree\u2028four",
    "see https://evil.example or www.evil.example or mail evil@example.com",
    "&lt;already escaped&gt; \\| backslash pipe",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_md_leaves_nothing_markdown_or_html_can_use(text: str):
    out = md(text)
    for char in "<>`|[]\n\r\u2028":
        assert char not in out
    assert "&lt;already" not in out  # the & of an entity in run data is itself escaped
    assert not re.search(r"https?://|www\.|@", out)


def test_md_cuts_before_escaping():
    out = md("|" * 50, limit=10)
    assert out == "&#124;" * 9 + "…"


def _table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def test_summary_tables_stay_whole(tmp_path: Path):
    checks = [{"id": f"check|{i}", "status": "failed", "summary": HOSTILE[i % len(HOSTILE)],
               "evidence": {"sent": HOSTILE}} for i in range(12)]
    run_dir = make_golden_folder(tmp_path, description=HOSTILE[0], checks=checks)
    modes = [dict(GOLDEN_FAILURE_MODES[0], mode=h, cause=h, rpn=i) for i, h in enumerate(HOSTILE)]
    render_all(run_dir, failure_modes=modes)
    text = (run_dir / "summary.md").read_text()
    assert "**Verdict: ❌ UNSOUND**" in text
    check_rows = [r for r in _table_rows(text) if "FAIL" in r]
    assert len(check_rows) == 12 and all(r.count("|") == 5 for r in check_rows)
    fmea_rows = [r for r in _table_rows(text) if re.match(r"\| \d \|", r)]
    assert [r.split("|")[4].strip() for r in fmea_rows] == ["7", "6", "5", "4", "3"]
    assert all(r.count("|") == 9 for r in fmea_rows)
    assert "<" not in text and "`" not in text


def test_summary_stays_under_a_mebibyte(tmp_path: Path):
    checks = [{"id": f"recovery:kill:parser@{i}s", "status": "failed", "summary": "|" * 5000,
               "evidence": {"ids": ["<x>"] * 50}} for i in range(2000)]
    run_dir = make_golden_folder(tmp_path, checks=checks)
    data = FORMAT.render(build_context(run_dir, failure_modes=[])).encode()
    assert len(data) < 1024 * 1024
    assert b"more checks in report.html" in data
    assert b"No failure modes: nothing went wrong." in data


def test_sound_verdict_line_and_no_fmea(tmp_path: Path):
    checks = [{"id": "exactly-once", "status": "passed", "summary": "ok", "evidence": {}}]
    run_dir = make_golden_folder(tmp_path, checks=checks)
    ctx = dataclasses.replace(build_context(run_dir, failure_modes=[]), failure_modes=None)
    text = FORMAT.render(ctx)
    assert "**Verdict: ✅ SOUND** — 1 passed, 0 failed, 0 skipped" in text
    assert "No failure modes computed." in text
