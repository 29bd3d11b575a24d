"""``exodus bench capacity`` runs end to end with tiny steps and reports its figures.

Bounded: two steps of 50 evacuees (20/s, then 40/s, the --max-rate) and half a second of
frontend ceiling. Never judged on speed: a slow machine may find a lower knee.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_bench_capacity_prints_the_knee_the_ceiling_and_their_ratio_in_one_json_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "bench", "capacity", "--json",
         "--start-rate", "20", "--max-rate", "40", "--step-seconds", "1", "--seconds", "0.5",
         "--connections", "4", "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one JSON line, nothing else on stdout
    figures = json.loads(lines[0])
    assert {"knee_per_s", "accept_per_s", "ratio", "first_unsound_per_s", "steps"} <= set(figures)
    assert figures["knee_per_s"] in (0.0, 20.0, 40.0) and 1 <= figures["steps"] <= 2
    assert figures["accept_per_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["knee_per_s"] / figures["accept_per_s"],
                                             abs=0.001)
    [folder] = (tmp_path / "runs").iterdir()  # the search's own folder, with its knee report
    capacity = json.loads((folder / "capacity.json").read_text())
    assert len(capacity["steps"]) == figures["steps"]
    assert (folder / "report.html").is_file() and "Knee" in (folder / "summary.md").read_text()


def test_bench_capacity_prints_a_table_by_default(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "bench", "capacity",
         "--start-rate", "20", "--max-rate", "20", "--step-seconds", "1", "--seconds", "0.5",
         "--connections", "4"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "exodus bench capacity" in done.stdout and "knee_per_s" in done.stdout
    assert "accept_per_s" in done.stdout and "ratio" in done.stdout
