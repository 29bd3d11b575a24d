"""``exodus report RUN_DIR`` as a real process: files written, the verdict's exit code, 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.golden_folder import make_golden_folder, verdict

REPO = Path(__file__).resolve().parents[1]
OUTPUTS = ("report.html", "summary.md", "junit.xml", "verdict.json")


def _exodus_report(run_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    env.update(COLUMNS="200", NO_COLOR="1", PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "report", str(run_dir)],
        cwd=REPO, capture_output=True, text=True, encoding="utf-8", timeout=60, env=env,
    )


def test_unsound_folder_renders_and_exits_1(tmp_path: Path):
    run_dir = make_golden_folder(tmp_path)
    result = _exodus_report(run_dir)
    assert result.returncode == 1, result.stderr
    assert "UNSOUND" in result.stdout and result.stderr == ""
    for name in OUTPUTS:
        assert (run_dir / name).stat().st_size > 0
    assert "wrote: report.html, summary.md, junit.xml, verdict.json" in result.stdout


def test_sound_folder_exits_0(tmp_path: Path):
    checks = [{"id": "exactly-once", "status": "passed", "summary": "all stored once",
               "evidence": {}},
              {"id": "browser-oracle", "status": "skipped", "summary": "no browser",
               "evidence": {}}]
    run_dir = make_golden_folder(tmp_path, checks=checks)
    result = _exodus_report(run_dir)
    assert result.returncode == 0, result.stderr
    assert "SOUND (1 passed, 0 failed, 1 skipped)" in result.stdout
    assert "**Verdict: ✅ SOUND**" in (run_dir / "summary.md").read_text()


def test_missing_folder_is_one_line_and_exit_2(tmp_path: Path):
    result = _exodus_report(tmp_path / "nope")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("exodus report: ") and "no such run folder" in result.stderr
    assert result.stdout == ""


def test_folder_without_verdict_exits_2_and_writes_nothing(tmp_path: Path):
    run_dir = make_golden_folder(tmp_path, with_verdict=False)
    result = _exodus_report(run_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no verdict.json" in result.stderr
    assert not any((run_dir / name).exists() for name in OUTPUTS)


@pytest.mark.parametrize(
    ("fields", "code", "headline"),
    [
        ({"outcome": "unproven", "unjudged": ["content"]}, 1, "UNPROVEN"),
        ({"outcome": "unproven", "unjudged": ["content"], "allow_partial": True}, 0, "PARTIAL"),
        ({"outcome": "interrupted", "complete": False}, 2, "INTERRUPTED"),
    ],
)
def test_the_exit_code_is_the_verdicts(tmp_path: Path, fields: dict, code: int, headline: str):
    checks = [{"id": "tally", "status": "passed", "summary": "ok", "evidence": {}}]
    run_dir = make_golden_folder(tmp_path, verdict_doc=verdict(checks, **fields))
    result = _exodus_report(run_dir)
    assert result.returncode == code, result.stderr
    assert f"{headline} (1 passed, 0 failed, 0 skipped)" in result.stdout
    head = (run_dir / "summary.md").read_text().splitlines()[2]
    assert head.startswith("**Verdict: ") and f" {headline}** — 1 passed" in head


def test_a_version_1_folder_is_read_and_its_outcome_derived(tmp_path: Path):
    """Version 1 said SOUND with every core check skipped; read again, that is UNPROVEN."""
    checks = [{"id": name, "status": "skipped", "summary": "could not see the store",
               "evidence": {}} for name in ("exactly-once", "content")]
    checks.append({"id": "bad-input", "status": "passed", "summary": "ok", "evidence": {}})
    doc = verdict(checks, schema_version=1)
    assert doc["sound"] is True and "outcome" not in doc
    run_dir = make_golden_folder(tmp_path, verdict_doc=doc)
    result = _exodus_report(run_dir)
    assert result.returncode == 1, result.stderr
    assert "UNPROVEN (1 passed, 0 failed, 2 skipped)" in result.stdout
    rewritten = json.loads((run_dir / "verdict.json").read_text())
    assert (rewritten["schema_version"], rewritten["outcome"], rewritten["sound"]) == \
        (2, "unproven", False)
    assert {"exactly-once", "content"} <= set(rewritten["unjudged"])
    assert "interrupted" not in rewritten


def test_an_interrupted_version_1_folder_exits_2(tmp_path: Path):
    checks = [{"id": "tally", "status": "passed", "summary": "ok", "evidence": {}}]
    doc = verdict(checks, schema_version=1, interrupted=True, sound=False)
    result = _exodus_report(make_golden_folder(tmp_path, verdict_doc=doc))
    assert result.returncode == 2 and "INTERRUPTED" in result.stdout, result.stderr
