"""frontend-kill: one of two frontends killed in turn under load; sound, and no valid wish refused.

The short form runs in CI; the bundled ``scenarios/frontend-kill.toml`` (~3,750 evacuees) is
the long form, run by hand three times in a row for the closing note.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exodus2045.chaos.plan import validate_step
from exodus2045.scenarios.scenario import load_scenario

SHORT = Path(__file__).parent / "scenarios" / "frontend-kill-short.toml"


@pytest.mark.parametrize("name", ["frontend-kill", str(SHORT)])
def test_both_forms_parse_and_kill_each_frontend_in_turn(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.stack.frontends == 2
    assert {(s.fault, s.target) for s in scenario.chaos} == {
        ("kill", "frontend:0"), ("kill", "frontend:1")}
    for s in scenario.chaos:
        validate_step(s)
        assert s.every_s and s.duration_s is None  # single kills, repeated: restarts in between
        assert s.at_s < scenario.swarm_seconds


@pytest.mark.slow
def test_short_frontend_kill_is_sound_with_zero_false_rejects(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "run", str(SHORT), "--out", str(out)],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    verdict = json.loads((out / "verdict.json").read_text())
    failed = [(c["id"], c["summary"]) for c in verdict["checks"] if c["status"] != "passed"]
    assert done.returncode == 0 and verdict["sound"] is True, (failed, done.stderr[-2000:])
    check = next(c for c in verdict["checks"] if c["id"] == "no-false-rejects")
    assert check["evidence"]["false_rejects_total"] == 0
    assert check["evidence"]["valid"] == check["evidence"]["acknowledged"] > 150
    kills = [json.loads(line) for line in (out / "timeline.jsonl").read_text().splitlines()]
    killed = {k["target"] for k in kills if k["event"] == "on" and k["fault"] == "kill"}
    assert killed == {"frontend:0", "frontend:1"}
