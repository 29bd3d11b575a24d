"""``exodus report RUN_DIR`` as a real process: files written, exit 0 / 1 / 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.golden_folder import make_golden_folder

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
