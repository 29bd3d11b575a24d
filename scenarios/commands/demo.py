"""``exodus demo``: the smoke scenario on the embedded stack, with a live terminal view."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from exodus2045.scenarios.commands.run import add_run_arguments, options_from


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="the smoke scenario with a live view: no setup needed")
    parser.add_argument("--scenario", default="smoke", help="scenario to play (default smoke)")
    add_run_arguments(parser)
    parser.set_defaults(func=run)


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


def run(args: argparse.Namespace) -> int:
    from exodus2045.reports.terminal import print_verdict
    from exodus2045.scenarios.runner import run_scenario

    options = options_from(args, args.scenario)
    console = Console()
    console.print(f"[bold]Exodus 2045[/bold] - {options.scenario.description}")
    view = LiveView(options.scenario.load.evacuees)
    with view.live:
        result = run_scenario(options, progress=view.update)
    console.print()
    print_verdict(result.verdict, result.run_dir, console=console)
    return result.exit_code
