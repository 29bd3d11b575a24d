"""The report of a capacity search: the knee plotted, each step's verdict marked, text escaped.

A capacity folder is built from the run-folder factory (one crafted run folder per step, as
``--find-capacity`` leaves them) plus its ``capacity.json``; the test reads the plotted points
back out of the SVG and checks that every step is there with its verdict's mark.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from exodus2045.reports.knee import knee_line, render_capacity, steps_by_rate
from tests.runfolder_factory import make_run_folder

CLI = [sys.executable, "-m", "exodus2045.scenarios.cli"]
EVIL = '<script>alert("knee")</script>'


def _capacity_folder(tmp_path):
    folder = tmp_path / "20261130T090000Z-cap-capacity"
    folder.mkdir()
    steps = []
    # the order a search runs them in: doubling, then bisecting back down
    for i, (rate, outcome, failed, p95, tput) in enumerate([
        (20, "sound", [], 8.0, 17.0), (40, "sound", [], 9.5, 33.0),
        (80, "sound", [], 12.0, 66.0), (160, "unsound", ["exactly-once", EVIL], 11.0, 120.0),
        (120, "sound", [], 14.0, 99.0), (140, "unproven", [], 30.0, 101.0),
    ], 1):
        run_dir = make_run_folder(folder, name=f"step-{i:02d}-{rate:g}")
        steps.append({"rate": rate, "outcome": outcome, "failed": failed, "p95_ms": p95,
                      "throughput": tput, "run_dir": str(run_dir)})
    capacity = {"schema_version": 1, "highest_sound_rate": 120, "first_unsound_rate": 140,
                "why": "unproven", "steps": steps}
    (folder / "capacity.json").write_text(json.dumps(capacity))
    return folder, capacity


class _Marks(HTMLParser):
    """Every step mark of every chart: (chart title, rate, outcome, tag, value)."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[str, float, str, str, float]] = []
        self.knees: list[str] = []
        self._caption: str | None = None
        self._in_caption = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figcaption":
            self._in_caption = True
        if "data-rate" in a:
            self.marks.append((self._caption, float(a["data-rate"]), a["data-outcome"], tag,
                               float(a["data-value"])))
        if a.get("class") == "knee-label":
            self.knees.append(tag)

    def handle_data(self, data):
        if self._in_caption:
            self._caption = data
            self._in_caption = False


def test_the_knee_plot_has_every_step_at_its_rate_with_its_verdicts_mark(tmp_path):
    folder, capacity = _capacity_folder(tmp_path)
    written = render_capacity(folder)
    assert [p.name for p in written] == ["report.html", "summary.md"]
    page = (folder / "report.html").read_text()
    parser = _Marks()
    parser.feed(page)
    by_chart: dict[str, list] = {}
    for caption, rate, outcome, tag, value in parser.marks:
        by_chart.setdefault(caption, []).append((rate, outcome, tag, value))
    assert len(by_chart) == 2  # p95 and throughput, both against offered rate
    p95 = next(v for k, v in by_chart.items() if k.startswith("p95"))
    tput = next(v for k, v in by_chart.items() if k.startswith("throughput"))
    expected = sorted((s["rate"], s["outcome"]) for s in capacity["steps"])
    for marks, key in ((p95, "p95_ms"), (tput, "throughput")):
        assert [(r, o) for r, o, _, _ in marks] == expected  # by rate, each step once
        for rate, outcome, tag, value in marks:
            step = next(s for s in capacity["steps"] if s["rate"] == rate)
            assert value == step[key]
            assert tag == ("circle" if outcome == "sound" else "path")  # a cross if not sound
    # the polyline runs through the points in rate order (x increasing)
    for line in re.findall(r'<polyline[^>]*points="([^"]+)"', page):
        xs = [float(pair.split(",")[0]) for pair in line.split()]
        assert xs == sorted(xs) and len(xs) == len(expected)
    assert len(parser.knees) == 2 and "knee 120/s" in page
    assert EVIL not in page and "&lt;script&gt;" in page  # a check id from the folder: escaped
    assert "Content-Security-Policy" in page and "<script" not in page


def test_summary_md_says_the_knee_in_one_line(tmp_path):
    folder, capacity = _capacity_folder(tmp_path)
    render_capacity(folder)
    summary = (folder / "summary.md").read_text()
    assert "**Knee: 120 evacuees/s sound; first not sound: 140/s (unproven)**" in summary
    assert "<script>" not in summary
    assert [float(s["rate"]) for s in steps_by_rate(capacity)] == [20, 40, 80, 120, 140, 160]
    assert knee_line({"highest_sound_rate": None}) == "Knee: no step was sound"


def test_exodus_report_re_renders_a_capacity_folder(tmp_path):
    folder, _ = _capacity_folder(tmp_path)
    result = subprocess.run([*CLI, "report", str(folder)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert (folder / "report.html").is_file() and "summary.md" in result.stdout


@pytest.mark.parametrize("text", ["{", '{"steps": 3}'])
def test_a_broken_capacity_json_is_a_clear_error(tmp_path, text):
    (tmp_path / "capacity.json").write_text(text)
    result = subprocess.run([*CLI, "report", str(tmp_path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "capacity.json" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
