"""``exodus run --find-capacity``: the knee is where soundness broke, not where latency did.

With the ``shed-under-load`` flaw the pipeline stays fast (the SLO holds) while it drops
wishes under load: the search must stop at the first step that is not sound and name the
check, with every sound step below it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "exodus2045.scenarios.cli"]


def test_the_knee_of_a_pipeline_that_sheds_under_load_is_where_it_lost_wishes(tmp_path):
    scenario = tmp_path / "cap.toml"
    scenario.write_text(textwrap.dedent("""
        name = "cap"
        seed = 5
        [stack]
        parsers = 1
        pod_workers = 1
        [load]
        evacuees = 100
        arrival_rate = 20
        max_in_flight = 64
        infiltrator_share = 0.5  # every step needs bad input to judge (else unproven)
        [slo]
        # Generous on purpose: on a loaded 2-core machine latency must not be what breaks
        # first, so the knee this test finds is the soundness one (tests assert correctness).
        submit_p95_ms = 20000
        error_ratio = 0.5
        e2e_p95_s = 60
        drain_within = "20s"
    """))
    result = subprocess.run([*CLI, "run", str(scenario), "--find-capacity", "--max-rate", "3200",
                             "--flaws", "shed-under-load", "--runs-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [folder] = (tmp_path / "runs").iterdir()
    capacity = json.loads((folder / "capacity.json").read_text())
    steps = capacity["steps"]
    assert steps[0]["rate"] == 20 and steps[0]["outcome"] == "sound"
    knee, first_bad = capacity["highest_sound_rate"], capacity["first_unsound_rate"]
    assert knee is not None and first_bad is not None and knee < first_bad
    bad = next(s for s in steps if s["rate"] == first_bad)
    assert "exactly-once" in bad["failed"] and "slo" not in bad["failed"]  # fast, yet unsound
    assert "exactly-once" in capacity["why"]
    for step in steps:  # every step is a run folder of its own, judged
        assert (step["outcome"] == "sound") == (step["rate"] <= knee)
        verdict = json.loads((folder / Path(step["run_dir"]).name / "verdict.json").read_text())
        assert verdict["outcome"] == step["verdict"] == step["outcome"]
    assert f"highest sound rate: {knee}" in result.stdout


def test_find_capacity_refuses_a_max_rate_below_the_scenario(tmp_path):
    result = subprocess.run([*CLI, "run", "smoke", "--find-capacity", "--max-rate", "1",
                             "--runs-dir", str(tmp_path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2 and "--max-rate" in result.stderr, result.stderr


def test_a_step_whose_evacuees_left_late_never_held_its_rate(tmp_path):
    """GIVEN steps whose data are all sound, the upper ones with evacuees leaving over a
    second late (every carrier waiting on a saturated pipeline: measured, 20,382 of 25,600
    at 6,400/s offered, 2,655/s delivered) WHEN the search is summed up THEN the knee is the
    last step that kept to its schedule, and why the next did not is said in numbers."""
    from types import SimpleNamespace

    from exodus2045.scenarios.capacity import FELL_BEHIND, Capacity, _step_record

    def step(rate: float, late: int, evacuees: int, throughput: float) -> dict:
        figures = {"counts": {"late": late, "evacuees": evacuees}, "throughput": throughput,
                   "response_ms": {"p95": 10.0}}
        verdict = SimpleNamespace(outcome="sound", failed=[], figures=figures)
        return _step_record(rate, SimpleNamespace(verdict=verdict, run_dir=tmp_path / str(rate)))

    capacity = Capacity(tmp_path, [step(1600, 0, 6400, 1542.1), step(3200, 12, 12800, 2860.0),
                                   step(6400, 20382, 25600, 2655.2)])
    assert [s["outcome"] for s in capacity.steps] == ["sound", "sound", FELL_BEHIND]
    assert capacity.steps[2]["verdict"] == "sound"
    summary = capacity.to_json()
    assert summary["highest_sound_rate"] == 3200 and summary["first_unsound_rate"] == 6400
    assert summary["why"] == (f"{FELL_BEHIND}: 20382 of 25600 evacuees left over a second late "
                              "(2655.2/s delivered)")
