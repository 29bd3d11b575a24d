"""The live terminal view of ``exodus demo``: its own module so that building the command
line does not import rich's live display (only a demo that runs needs it)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table


class LiveView:
    """Sent / acknowledged / stored bars, Mars vs Jupiter, and p95, refreshed each second."""

    def __init__(self, evacuees: int) -> None:
        self.bars = Progress(TextColumn("{task.description:>13}"), BarColumn(bar_width=40),
                             MofNCompleteColumn())
        self.sent = self.bars.add_task("sent", total=evacuees)
        self.acked = self.bars.add_task("acknowledged", total=evacuees)
        self.stored = self.bars.add_task("stored", total=evacuees)
        self.table = Table.grid(padding=(0, 3))
        self.phase = "starting"
        self.live = Live(self.render(), refresh_per_second=4)

    def render(self) -> Group:
        return Group(self.bars, self.table)

    def update(self, info: dict[str, Any]) -> None:
        tail, sample = info["ledger"], info["sample"]
        self.bars.update(self.sent, completed=tail.sent)
        self.bars.update(self.acked, completed=tail.acknowledged)
        stored = sample.get("stored")
        if stored is not None:
            self.bars.update(self.stored, completed=stored)
        grid = Table.grid(padding=(0, 3))
        grid.add_row(f"[bold]{info['phase']}[/bold]", f"[red]Mars {tail.mars}[/red]",
                     f"[yellow]Jupiter {tail.jupiter}[/yellow]",
                     f"p95 {tail.p95_ms():.0f} ms", f"rejected {tail.rejected}",
                     f"errors {tail.errors}")
        self.table = grid
        self.live.update(self.render())
