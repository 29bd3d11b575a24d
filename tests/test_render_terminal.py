"""print_verdict: a table of checks, the headline line, the report path, nothing live."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from exodus2045.reports.terminal import print_verdict
from exodus2045.reports.verdict import Verdict
from tests.golden_folder import verdict


def _printed(data: dict, run_dir: Path | None) -> str:
    console = Console(record=True, width=200, color_system=None, force_terminal=False)
    print_verdict(Verdict.from_json(data), run_dir, console)
    return console.export_text()


def test_unsound_verdict_table_and_path(tmp_path: Path):
    text = _printed(verdict(), tmp_path / "run")
    for word in ("FAIL", "PASS", "SKIP", "exactly-once", "recovery:kill:parser@8s"):
        assert word in text
    assert "UNSOUND (4 passed, 2 failed, 1 skipped): failed: exactly-once, no-executable" in text
    assert f"report: {tmp_path / 'run' / 'report.html'}" in text


def test_sound_verdict_without_folder():
    checks = [{"id": "tally", "status": "passed", "summary": "ok", "evidence": {}}]
    text = _printed(verdict(checks), None)
    assert "SOUND (1 passed, 0 failed, 0 skipped)" in text and "UNSOUND" not in text
    assert "report:" not in text


def test_run_data_is_neither_markup_nor_control_sequences():
    checks = [{"id": "[bold]x[/bold]", "status": "failed",
               "summary": "[red]fake PASS[/red] \x1b[2J\x1b]8;;http://evil\x07link", "evidence": {}}]
    text = _printed(verdict(checks, scenario="[link=http://evil]s[/link]"), None)
    assert "[bold]x[/bold]" in text
    assert "[red]fake PASS[/red]" in text
    assert "[link=http://evil]s[/link]" in text
    assert "\x1b" not in text and "\x07" not in text


@pytest.mark.parametrize(
    ("fields", "line"),
    [
        ({"outcome": "unproven", "unjudged": ["content", "tally"]},
         "UNPROVEN (1 passed, 0 failed, 0 skipped): core checks not judged: content, tally"),
        ({"outcome": "unproven", "unjudged": ["content"], "allow_partial": True},
         "PARTIAL (1 passed, 0 failed, 0 skipped): core checks not judged: content; partial"),
        ({"outcome": "unproven", "complete": False},
         "UNPROVEN (1 passed, 0 failed, 0 skipped): the swarm ended before every evacuee left"),
        ({"outcome": "interrupted", "complete": False}, "INTERRUPTED (1 passed, 0 failed"),
        ({"outcome": "error", "error": "the swarm failed"},
         "ERROR (1 passed, 0 failed, 0 skipped): could not judge the run: the swarm failed"),
    ],
)
def test_every_outcome_has_its_headline_and_reason(fields: dict, line: str):
    checks = [{"id": "tally", "status": "passed", "summary": "ok", "evidence": {}}]
    text = _printed(verdict(checks, **fields), None)
    assert line in text and "SOUND (" not in text.replace("UNSOUND (", "")
