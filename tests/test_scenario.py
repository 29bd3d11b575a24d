"""Scenario files are validated before anything runs: file, key and problem named, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exodus2045.scenarios.scenario import ScenarioError, available, load_scenario, parse_scenario


def exodus(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd)


def test_every_bundled_scenario_parses():
    names = available()
    assert {"smoke", "exodus-65k", "xss-storm"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.name and scenario.load.evacuees >= 1


def test_smoke_fits_ci():
    smoke = load_scenario("smoke")
    assert smoke.load.evacuees >= 500 and smoke.load.infiltrator_share >= 0.05
    assert smoke.swarm_seconds <= 60


@pytest.mark.parametrize("data,message", [
    ({"name": "x", "load": {"evacuess": 5}}, "load.evacuess: unknown key"),
    ({"name": "x", "load": {"evacuees": "many"}}, "load.evacuees: must be int, got str"),
    ({"name": "x", "load": {"evacuees": 0}}, "load.evacuees: must be between 1 and 10,000,000, got 0"),
    ({"name": "x", "load": {"mars_share": 1.5}}, "load.mars_share: must be between 0 and 1, got 1.5"),
    ({"name": "x", "slo": {"drain_within": "soon"}}, "slo.drain_within: expected a duration"),
    ({"name": "x", "slo": {"warmup": 20}}, "slo.warmup: expected a duration like 500ms, 20s, "
                                           "2m, 1h or 1h30m, got the bare number 20: say the "
                                           "unit, e.g. '20s'"),
    ({"name": "x", "chaos": [{"at": "1", "fault": "kill", "target": "parser"}]},
     "chaos[0].at: expected a duration"),
    ({"name": "x", "load": {"stages": [{"duration": 5.5, "rate": 1}]}},
     "load.stages[0].duration: expected a duration"),
    ({"name": "x", "stack": {"flaws": ["nope"]}}, "stack.flaws: unknown flaw 'nope'"),
    ({"name": "x", "bogus": 1}, "bogus: unknown key"),
    ({"description": "no name"}, "name: is required"),
    ({"name": "x", "load": {"arrival_rate": 5, "stages": [{"duration": "5s", "rate": 1}]}},
     "give either arrival_rate or stages"),
    ({"name": "x", "load": {"stages": [{"duration": "5s"}]}}, "needs both duration and rate"),
    ({"name": "x", "chaos": [{"at": "1s", "fault": "kill"}]}, "chaos[0].target: is required"),
    ({"name": "x", "audit": {"browser": "yes"}}, "audit.browser: must be bool"),
])
def test_bad_scenarios_name_key_and_problem(data, message):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "bad.toml")
    assert str(err.value).startswith("bad.toml: ")
    assert message in str(err.value)


def test_cli_rejects_bad_scenario_file_with_exit_2(tmp_path):
    bad = tmp_path / "typo.toml"
    bad.write_text('name = "typo"\n[load]\nevacuees = 10\narival_rate = 5\n')
    result = exodus("run", str(bad), "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0  # one line, no traceback
    assert f"{bad}:4: load.arival_rate: unknown key" in result.stderr  # file and line
    assert not (tmp_path / "runs").exists()


def test_every_problem_in_a_file_is_reported_at_once_with_its_line(tmp_path):
    """GIVEN a file with three mistakes in three tables WHEN it is loaded THEN all three are
    named, each with its line, so fixing it takes one round trip, not three."""
    bad = tmp_path / "three.toml"
    bad.write_text('name = "three"\n[load]\nevacuees = 0\nmars_share = 2\n'
                   '[slo]\ndrain_within = "soon"\n[[chaos]]\nat = "1s"\nfault = "kill"\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(str(bad))
    lines = str(err.value).splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{bad}:3", f"{bad}:4", f"{bad}:6", str(bad)]
    assert "chaos[0].target: is required" in lines[3]


@pytest.mark.parametrize("flag,value,message", [
    ("--arrival-rate", "0", "--arrival-rate: must be more than 0 evacuees a second"),
    ("--evacuees", "0", "--evacuees: must be between 1"),
    ("--infiltrator-share", "1.5", "--infiltrator-share: must be between 0 and 1"),
])
def test_cli_overrides_are_held_to_the_files_rules_before_anything_starts(
        tmp_path, flag, value, message):
    result = exodus("run", "smoke", flag, value, "--runs-dir", str(tmp_path / "runs"))
    assert result.returncode == 2 and message in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "runs").exists()


def test_cli_rejects_invalid_toml_with_line(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text('name = "broken"\n[load\n')
    result = exodus("run", str(bad))
    assert result.returncode == 2
    assert "broken.toml: not valid TOML" in result.stderr and "line 2" in result.stderr


def test_cli_unknown_scenario_name_lists_known(tmp_path):
    result = exodus("run", "no-such-scenario")
    assert result.returncode == 2
    assert "no scenario named 'no-such-scenario'; known:" in result.stderr
    assert "smoke" in result.stderr
