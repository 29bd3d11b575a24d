"""k6-style ``[slo] thresholds`` and ``abort_on_fail``: parsed with file:line, judged by the
``slo`` check, and a lost threshold stops the swarm early."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exodus2045.reports.checks import slo
from exodus2045.reports.runfolder import RunData
from exodus2045.reports.thresholds import ThresholdError, evaluate, parse_threshold
from exodus2045.scenarios.scenario import ScenarioError, load_scenario
from tests.runfolder_factory import make_run_folder


def test_parse_and_evaluate():
    t = parse_threshold(" submit_p99_ms<=400 ")
    assert (t.metric, t.op, t.bound, t.text) == ("submit_p99_ms", "<=", 400.0, "submit_p99_ms <= 400")
    met, breached, unjudged = evaluate(
        [t, parse_threshold("error_ratio < 0.01"), parse_threshold("e2e_p99_s < 30")],
        {"submit_p99_ms": 400.0, "error_ratio": 0.02, "e2e_p99_s": None})
    assert met == ["submit_p99_ms 400 <= 400"]
    assert breached == ["error_ratio 0.02 !< 0.01"] and unjudged == ["e2e_p99_s < 30 (no data)"]
    for bad in ("p95 < 3", "submit_p95_ms = 3", "submit_p95_ms < fast", 42):
        with pytest.raises(ThresholdError):
            parse_threshold(bad)


def test_scenario_names_the_line_of_a_bad_threshold(tmp_path: Path):
    path = tmp_path / "s.toml"
    path.write_text('name = "s"\n[slo]\nabort_on_fail = true\n'
                    'thresholds = ["submit_p95_ms < 250", "latency < 3"]\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    assert f"{path}:4: slo.thresholds[1]: unknown metric 'latency'" in str(info.value)
    path.write_text('name = "s"\n[slo]\nabort_on_fail = true\nthresholds = ["error_ratio<0.1"]\n')
    scenario = load_scenario(str(path))
    assert scenario.slo.thresholds == ("error_ratio < 0.1",) and scenario.slo.abort_on_fail


def _with_thresholds(*exprs: str):
    def mutate(files):
        files["run.json"]["scenario"]["slo"]["thresholds"] = list(exprs)
    return mutate


def test_slo_check_judges_threshold_expressions(tmp_path: Path):
    breached = slo.check(RunData.load(make_run_folder(
        tmp_path / "b", mutate=_with_thresholds("submit_p99_ms < 1", "error_ratio < 1"))))
    assert breached.status == "failed"
    assert any(b.startswith("submit_p99_ms ") and "!< 1" in b
               for b in breached.evidence["breaches"])
    met = slo.check(RunData.load(make_run_folder(
        tmp_path / "m", mutate=_with_thresholds("error_ratio < 1"))))
    assert met.status == "passed" and "error_ratio" in met.summary


@pytest.mark.slow
def test_abort_on_fail_stops_the_swarm_early(tmp_path: Path):
    scenario = tmp_path / "abort.toml"
    scenario.write_text('name = "abort"\nseed = 7\n[load]\nevacuees = 3000\narrival_rate = 100\n'
                        '[slo]\nabort_on_fail = true\nthresholds = ["submit_p50_ms < 0.001"]\n'
                        'drain_within = "20s"\n')
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "run",
                             str(scenario), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert run["aborted"]["threshold"] == "submit_p50_ms < 0.001"
    verdict = json.loads((out / "verdict.json").read_text())
    checks = {c["id"]: c for c in verdict["checks"]}
    assert checks["slo"]["status"] == "failed" and "swarm aborted at" in checks["slo"]["summary"]
    assert verdict["complete"] is False
    sent = {json.loads(x)["wish_id"] for x in (out / "ledger.jsonl").read_text().splitlines()}
    assert len(sent) < 1500  # stopped well before the 30 s the swarm would have taken
