"""print_verdict: a table of checks, the SOUND/UNSOUND line, the report path, nothing live."""

from __future__ import annotations

from pathlib import Path

from exodus2045.reports.terminal import print_verdict
from rich.console import Console

from tests.golden_folder import verdict


def _printed(data: dict, run_dir: Path | None) -> str:
    console = Console(record=True, width=200, color_system=None, force_terminal=False)
    print_verdict(data, run_dir, console)
    return console.export_text()


def test_unsound_verdict_table_and_path(tmp_path: Path):
    text = _printed(verdict(), tmp_path / "run")
    for word in ("FAIL", "PASS", "SKIP", "exactly-once", "recovery:kill:parser@8s"):
        assert word in text
    assert "UNSOUND (4 passed, 2 failed, 1 skipped)" in text
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
