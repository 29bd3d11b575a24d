"""The ``exodus`` command line.

Each subcommand is one module in :mod:`exodus2045.scenarios.commands` exposing ``register(subparsers)``
that adds its parser and sets ``func(args) -> int``; adding a command is adding a file.
Exit codes come from one table (:mod:`exodus2045.locustfiles.outcome`): 0 sound / ok,
1 unsound or unproven, 2 could not run. Any :class:`ExodusError` becomes one line on stderr
and exit 2; Ctrl-C is exit 2 as well (130 is not in our contract).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Sequence

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.locustfiles.outcome import EXIT_COULD_NOT_RUN


def build_parser() -> argparse.ArgumentParser:
    from exodus2045.scenarios import commands

    parser = argparse.ArgumentParser(
        prog="exodus",
        description="Exodus 2045: 65,000 evacuees prove a queue pipeline loses nothing.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"exodus2045.scenarios.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ExodusError as exc:
        print(f"exodus {args.command}: {exc}", file=sys.stderr)
        from exodus2045.scenarios.ci_output import could_not_run

        could_not_run(args.command, str(exc), os.environ, sys.stdout)
        return EXIT_COULD_NOT_RUN
    except KeyboardInterrupt:
        print(f"exodus {args.command}: interrupted", file=sys.stderr)
        return EXIT_COULD_NOT_RUN


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
