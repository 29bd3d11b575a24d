"""The seeded-flaw matrix: each flaw, with a scenario that exposes it, makes its check fail.

A check that cannot fail is a defect; this is the proof that each one can. Every row runs
the real ``exodus run`` process on its own embedded stack and asserts exit code 1 with the
named check failed (and, for the sound baseline, exit 0 with nothing failed).
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest

from exodus2045.app_under_test.flaws import CAUGHT_BY, FLAWS
from exodus2045.reports.formats.markdown import md

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent / "scenarios"

#: flaw -> (scenario, extra args, the checks of which at least one must fail)
MATRIX: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "lossy-worker": (str(HERE / "flaw-short.toml"), (), ("exactly-once",)),
    "double-tally": (str(HERE / "flaw-redelivery.toml"), (), ("tally",)),
    "raw-wall": (str(HERE / "flaw-short.toml"), (), ("no-executable-markup",)),
    "html-api": (str(HERE / "flaw-short.toml"), (), ("no-executable-markup",)),
    "no-dlq": (str(HERE / "flaw-poison.toml"), (), ("dlq-explained", "drained")),
    "timestamp-key": (str(HERE / "flaw-short.toml"), (), ("exactly-once",)),
    "early-ack": (str(HERE / "flaw-queue-errors.toml"), (), ("exactly-once",)),
    "ua-500": (str(HERE / "flaw-short.toml"), (), ("no-phantoms", "slo")),
    "no-validation": (str(HERE / "flaw-short.toml"), (), ("bad-input",)),
    # the swarm sends every 17th pooled message decomposed (NFD): the flaw stores it so
    "skip-nfc": (str(HERE / "flaw-short.toml"), (), ("content",)),
    "false-reject": (str(HERE / "flaw-short.toml"), (), ("no-false-rejects",)),
    # sound at a gentle pace (test_without_flaws...): wishes are dropped only under load
    "shed-under-load": (str(HERE / "flaw-burst.toml"), (), ("exactly-once",)),
}


def run_exodus(tmp_path: Path, *args: str) -> tuple[int, dict, Path]:
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "run", *args, "--out",
                             str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), f"could not run: {result.stderr[-2000:]}"
    return result.returncode, json.loads((out / "verdict.json").read_text()), out


def failed_checks(verdict: dict) -> set[str]:
    return {c["id"] for c in verdict["checks"] if c["status"] == "failed"}


def test_matrix_covers_every_flaw_with_its_documented_check():
    assert set(MATRIX) == set(FLAWS)
    for flaw, (_, _, checks) in MATRIX.items():
        assert set(checks) == set(CAUGHT_BY[flaw])


@pytest.mark.parametrize("flaw", sorted(MATRIX))
def test_flaw_makes_its_check_fail(tmp_path, flaw):
    scenario, extra, checks = MATRIX[flaw]
    code, verdict, _ = run_exodus(tmp_path, scenario, "--flaws", flaw, *extra)
    assert failed_checks(verdict) & set(checks), (
        f"{flaw}: expected one of {checks} to fail, failed: {sorted(failed_checks(verdict))}")
    assert (code, verdict["sound"], verdict["outcome"]) == (1, False, "unsound")


def test_without_flaws_the_same_scenarios_are_sound(tmp_path):
    for name in ("flaw-short", "flaw-redelivery", "flaw-burst"):
        code, verdict, _ = run_exodus(tmp_path / name, str(HERE / f"{name}.toml"))
        assert (code, failed_checks(verdict), verdict["outcome"]) == (0, set(), "sound"), name


def test_replay_2019_is_unsound_and_the_report_explains_each_finding(tmp_path):
    code, verdict, out = run_exodus(tmp_path, "replay-2019")
    assert code == 1
    failed = failed_checks(verdict)
    assert {"no-executable-markup", "bad-input"} <= failed
    assert failed & {"exactly-once", "no-phantoms"}
    report = (out / "report.html").read_text()
    summary = (out / "summary.md").read_text()
    for check in failed:  # each finding named in both reports, escaped for its format
        assert html.escape(check) in report and md(check) in summary
    assert "UNSOUND" in summary
