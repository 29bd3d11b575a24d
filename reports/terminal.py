"""The verdict in a terminal: a rich table of checks, the headline line, the report path.

The headline is the verdict's (SOUND, UNSOUND, UNPROVEN, PARTIAL, INTERRUPTED, ERROR; see
:mod:`exodus2045.locustfiles.outcome`), followed by why when it is not SOUND.

Run data is hostile here too: a check summary can quote what an infiltrator sent, and to
rich a ``[bold]`` in it is markup while an ESC byte is a terminal control sequence. So every
value from the run has its control characters replaced and its markup escaped
(:func:`rich.markup.escape`) before rich sees it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from exodus2045.reports.formats import excerpt
from exodus2045.reports.verdict import Verdict

SUMMARY_CHARS = 160
STATUS_CELL = {
    "passed": "[green]PASS[/green]",
    "failed": "[bold red]FAIL[/bold red]",
    "skipped": "[dim]SKIP[/dim]",
}
HEADLINE_STYLE = {"SOUND": "bold green", "UNSOUND": "bold red", "UNPROVEN": "bold yellow",
                  "PARTIAL": "bold yellow", "INTERRUPTED": "bold yellow", "ERROR": "bold red"}
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def safe(value: Any, limit: int | None = None) -> str:
    """Run data as literal text for rich: no markup, no terminal control sequences."""
    text = _CONTROLS.sub(" ", str(value))
    return escape(excerpt(text, limit) if limit else text)


def print_verdict(verdict: Verdict, run_dir: Path | None, console: Console | None = None) -> None:
    """Print the checks, then the headline line, then where the full report is."""
    console = console or Console()
    table = Table(title=f"exodus verdict: {safe(verdict.scenario or 'unnamed', 80)}")
    table.add_column("status")
    table.add_column("check")
    table.add_column("summary")
    for check in verdict.checks:
        table.add_row(
            STATUS_CELL[check.status],
            safe(check.id, 80),
            safe(check.summary, SUMMARY_CHARS),
        )
    console.print(table)

    tally = ", ".join(f"{n} {status}" for status, n in verdict.counts().items())
    word = verdict.headline
    style = HEADLINE_STYLE.get(word, "bold red")
    line = f"[{style}]{word}[/{style}] ({tally})"
    if verdict.reason():
        line += f": {safe(verdict.reason(), 2 * SUMMARY_CHARS)}"
    console.print(line)
    if run_dir is not None:
        # soft_wrap: a long path stays one line, so it can be copied or clicked.
        console.print(f"report: {safe(Path(run_dir) / 'report.html')}", soft_wrap=True)
