"""Exodus audits a pipeline it did not write, through its adapter file and ``--target`` only.

The foreign pipeline (:mod:`tests.foreign_pipeline`) is sound with its defects off; each
seeded defect fails the check that owns it. Runs are ~200 evacuees each (the CI budget).
Its flaky gateway answers 4% of posts 503 (then the retry is deduplicated), so the scenario
allows that error ratio: the point is the data checks, not its gateway.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.foreign_pipeline import ADAPTER, foreign_pipeline

pytestmark = pytest.mark.slow

SCENARIO = """\
name = "foreign"
description = "200 evacuees against a team's own pipeline, through its adapter."
seed = 2045
[load]
evacuees = 200
arrival_rate = 80
max_in_flight = 16
mars_share = 0.6
infiltrator_share = 0.08
[slo]
submit_p95_ms = 2000
error_ratio = 0.08
drain_within = "30s"
"""
DATA_CHECKS = ("exactly-once", "no-phantoms", "tally", "content", "bad-input",
               "no-false-rejects", "no-executable-markup")
CORE = (*DATA_CHECKS, "drained", "dlq-explained")
#: defect -> the check it must fail
MATRIX = {"drop": "exactly-once", "retry-dup": "exactly-once",
          "raw-body": "no-executable-markup", "miscount": "tally",
          "silent-dlq": "dlq-explained", "stuck": "drained"}


def audit(tmp_path, url: str, in_scenario: bool = False
          ) -> tuple[subprocess.CompletedProcess, dict]:
    """``--target URL --adapter team.toml``, or the same as ``[target]`` in the scenario."""
    (tmp_path / "team.toml").write_text(ADAPTER)
    target = f'[target]\nurl = "{url}"\nadapter = "team.toml"\n'
    (tmp_path / "foreign.toml").write_text(SCENARIO + (target if in_scenario else ""))
    out = tmp_path / "run"
    flags = [] if in_scenario else ["--target", url, "--adapter", str(tmp_path / "team.toml")]
    result = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "run", str(tmp_path / "foreign.toml"),
         *flags, "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert (out / "verdict.json").exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads((out / "verdict.json").read_text())


def test_sound_with_defects_off(tmp_path):
    """``--target`` and ``--adapter`` only: the adapter's [evidence] part shows the team's
    queue and dead letters, so every core check is judged and the verdict is SOUND.

    ``adapter check`` runs first on the same pipeline, as docs/github-actions.md's job does:
    the wish it leaves behind is not the run's (its listing shows it; the run must not
    claim it)."""
    with foreign_pipeline() as url:
        (tmp_path / "team.toml").write_text(ADAPTER)
        check = subprocess.run(
            [sys.executable, "-m", "exodus2045.scenarios.cli", "adapter", "check",
             str(tmp_path / "team.toml"), "--target", url],
            capture_output=True, text=True, timeout=120)
        assert check.returncode == 0 and "adapter check: OK" in check.stdout, check.stdout
        result, verdict = audit(tmp_path, url)
    checks = {c["id"]: c for c in verdict["checks"]}
    judged = {k: checks[k]["status"] for k in CORE}
    assert set(judged.values()) == {"passed"}, (judged, result.stdout[-3000:])
    assert checks["slo"]["status"] == "passed", checks["slo"]
    assert verdict["outcome"] == "sound" and verdict["unjudged"] == []
    assert result.returncode == 0 and "SOUND" in result.stdout
    index = json.loads((tmp_path / "run" / "evidence.json").read_text())["questions"]
    for question in ("queue-depths", "dead-letters", "stored-wishes"):
        assert index[question]["source"] == "http", (question, index[question])
    queues = json.loads((tmp_path / "run" / "queues.json").read_text())
    assert queues == {"queues": {"inbox": {"visible": 0, "in_flight": 0, "dlq": 0}},
                      "dead_letters": []}
    ids = [json.loads(x) for x in (tmp_path / "run" / "target-ids.jsonl").read_text().split("\n")
           if x]
    assert ids and all(x["target_id"].startswith("n-") for x in ids)
    assert checks["exactly-once"]["evidence"]["acknowledged"] >= 180


@pytest.mark.parametrize("defect", sorted(MATRIX))
def test_each_defect_fails_its_check(defect, tmp_path):
    with foreign_pipeline(frozenset({defect})) as url:
        # one defect reads its target and adapter from the scenario's [target]
        result, verdict = audit(tmp_path, url, in_scenario=defect == "miscount")
    statuses = {c["id"]: c["status"] for c in verdict["checks"]}
    assert statuses[MATRIX[defect]] == "failed", (defect, statuses)
    print(defect, "->", sorted(k for k, v in statuses.items() if v == "failed"))
    assert result.returncode == 1 and verdict["outcome"] == "unsound"
