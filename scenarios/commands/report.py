"""``exodus report RUN_DIR``: re-render every report of a run folder from its verdict.

It re-audits nothing: verdict.json is the audit's word and the folder holds the evidence,
so a run can be re-rendered later (after a renderer fix, or on another machine) and says the
same thing, down to the exit code: the verdict's (:mod:`exodus2045.locustfiles.outcome`), or 2
if there is no folder or verdict. A version-1 verdict is read, its outcome derived, and
rewritten as the current version.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "report",
        help="re-render report.html, summary.md, junit.xml and verdict.json of a run folder",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a runs/<time>-<name>/ folder")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from exodus2045.reports.knee import CAPACITY_FILE, render_capacity
    from exodus2045.reports.render import render_all
    from exodus2045.reports.terminal import print_verdict, safe
    from exodus2045.reports.verdict import Verdict

    if (args.run_dir / CAPACITY_FILE).is_file() and not (args.run_dir / "verdict.json").exists():
        written = render_capacity(args.run_dir)  # a --find-capacity folder: the knee
        Console().print("wrote: " + ", ".join(safe(path.name) for path in written))
        return 0
    verdict = Verdict.load(args.run_dir)
    written = render_all(args.run_dir, verdict=verdict)
    console = Console()
    print_verdict(verdict, args.run_dir, console)
    console.print("wrote: " + ", ".join(safe(path.name) for path in written), soft_wrap=True)
    return verdict.exit_code
