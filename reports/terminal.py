"""The verdict in a terminal: a rich table of checks, a SOUND/UNSOUND line, the report path.

Run data is hostile here too: a check summary can quote what an infiltrator sent, and to
rich a ``[bold]`` in it is markup while an ESC byte is a terminal control sequence. So every
value from the run has its control characters replaced and its markup escaped
(:func:`rich.markup.escape`) before rich sees it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from exodus2045.reports.formats import excerpt, status_of
from rich.console import Console
from rich.markup import escape
from rich.table import Table

SUMMARY_CHARS = 160
STATUS_CELL = {
    "passed": "[green]PASS[/green]",
    "failed": "[bold red]FAIL[/bold red]",
    "skipped": "[dim]SKIP[/dim]",
}
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def safe(value: Any, limit: int | None = None) -> str:
    """Run data as literal text for rich: no markup, no terminal control sequences."""
    text = _CONTROLS.sub(" ", str(value))
    return escape(excerpt(text, limit) if limit else text)


def print_verdict(
    verdict: dict[str, Any], run_dir: Path | None, console: Console | None = None
) -> None:
    """Print the checks, then the verdict line, then where the full report is."""
    console = console or Console()
    scenario = verdict.get("scenario")
    if isinstance(scenario, dict):
        scenario = scenario.get("name")
    table = Table(title=f"exodus verdict: {safe(scenario or 'unnamed', 80)}")
    table.add_column("status")
    table.add_column("check")
    table.add_column("summary")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for check in verdict.get("checks") or []:
        if not isinstance(check, dict):
            continue
        status = status_of(check)
        counts[status] += 1
        table.add_row(
            STATUS_CELL[status],
            safe(check.get("id", "?"), 80),
            safe(check.get("summary", ""), SUMMARY_CHARS),
        )
    console.print(table)

    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    if verdict.get("sound") is True:
        line = f"[bold green]SOUND[/bold green] ({tally})"
    else:
        line = f"[bold red]UNSOUND[/bold red] ({tally})"
    if verdict.get("interrupted"):
        line += " [yellow]interrupted[/yellow]"
    console.print(line)
    if run_dir is not None:
        # soft_wrap: a long path stays one line, so it can be copied or clicked.
        console.print(f"report: {safe(Path(run_dir) / 'report.html')}", soft_wrap=True)
