"""``exodus demo``: the smoke scenario on the embedded stack, with a live terminal view."""

from __future__ import annotations

import argparse

from exodus2045.scenarios.commands.run import add_run_arguments, options_from


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help="the smoke scenario with a live view: no setup needed")
    parser.add_argument("--scenario", default="smoke", help="scenario to play (default smoke)")
    add_run_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from exodus2045.reports.terminal import print_verdict
    from exodus2045.scenarios.live_view import LiveView
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
