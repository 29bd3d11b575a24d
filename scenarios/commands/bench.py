"""``exodus bench NAME [--json]``: measure, side by side with a baseline, and report."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from types import ModuleType


def benchmarks() -> dict[str, ModuleType]:
    from exodus2045.scenarios import benchmarks as pkg

    found = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        if not info.name.startswith("_"):
            module = importlib.import_module(f"exodus2045.scenarios.benchmarks.{info.name}")
            found[module.NAME] = module
    return dict(sorted(found.items()))


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="run a benchmark and print a table (or --json)")
    bench_sub = parser.add_subparsers(dest="benchmark", metavar="NAME")
    bench_sub.required = True
    for name, module in benchmarks().items():
        p = bench_sub.add_parser(name, help=module.HELP)
        p.add_argument("--json", action="store_true", help="print one JSON line")
        module.add_arguments(p)
        p.set_defaults(func=_runner(module))


def _runner(module: ModuleType):
    def run(args: argparse.Namespace) -> int:
        from rich.console import Console
        from rich.table import Table

        figures = module.run(args)
        if args.json:
            print(json.dumps(figures, sort_keys=False))
        elif hasattr(module, "table"):  # a bench with its own layout (rows to compare)
            Console().print(module.table(figures))
        else:
            table = Table(title=f"exodus bench {module.NAME}")
            table.add_column("figure")
            table.add_column("value", justify="right")
            for key, value in figures.items():
                table.add_row(key, f"{value:,.3f}" if isinstance(value, float) else str(value))
            Console().print(table)
        return 0

    return run
