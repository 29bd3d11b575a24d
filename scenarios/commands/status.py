"""``exodus status``: what runs, what is queued, what is stored."""

from __future__ import annotations

import argparse
import json
import os

from exodus2045.app_under_test.settings import StackConfig


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("status", help="components, queue depths, stored count, tally")
    parser.add_argument("--state-dir", default=str(StackConfig.from_env(os.environ).state_dir))
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from exodus2045.app_under_test.stackview import stack_status

    status = stack_status(Path(args.state_dir))
    if args.json:
        print(json.dumps(status, sort_keys=True))
        return 0
    console = Console()
    console.print(f"[bold]{status['url']}[/bold]  {'(stopped)' if status['stopped'] else ''}")
    comps = Table("component", "pid", "restarts", "state", title="components")
    for c in status["components"]:
        comps.add_row(c["name"], str(c["pid"] or "-"), str(c["restarts"]), c["state"])
    console.print(comps)
    queues = Table("queue", "visible", "in flight", "DLQ", title="queues")
    for name, d in status["queues"].items():
        queues.add_row(name, str(d["visible"]), str(d["in_flight"]), str(d["dlq"]))
    console.print(queues)
    tally = status["tally"]
    console.print(f"stored {status['stored']}   mars {tally.get('mars', 0)}   "
                  f"jupiter {tally.get('jupiter', 0)}")
    return 0
