"""``python -m exodus2045.chaos.entry KIND [flags]``: a stack component that chaos can reach.

The pipeline knows nothing of chaos: its processes take hooks, and this entry point runs
them with chaos's. A frontend gets ``frontend/queue.send`` faults in front of its intake and
the presenter's chaos routes; a parser or pod worker gets its ports wrapped and
crash-after-store armed (:mod:`exodus2045.chaos.runtime`). ``KIND`` is ``frontend``,
``parser`` or ``pod-worker``; the flags after it are the pipeline's own (``--fd N --index I``,
``--index I``). :func:`exodus2045.chaos.stack.component_command` is what the supervisor runs
in a stack chaos may hit.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from exodus2045.app_under_test import functions
from exodus2045.app_under_test.frontend.__main__ import main as frontend_main
from exodus2045.app_under_test.frontend.hooks import FrontendHooks
from exodus2045.chaos.presenter import add_chaos_routes
from exodus2045.chaos.runtime import instrument_intake, instrument_poller
from exodus2045.chaos.stack import ENTRY_MODULE

MODULE = ENTRY_MODULE
PROG = f"python -m {MODULE}"
KINDS = ("frontend", *functions.ROLES)
FRONTEND_HOOKS = FrontendHooks(wrap_intake=instrument_intake, routes=(add_chaos_routes,))


def main(argv: Sequence[str] | None = None) -> int:
    cli = argparse.ArgumentParser(prog=PROG, description="Run one stack component with chaos "
                                                         "hooks; the flags after KIND are its own.")
    cli.add_argument("kind", choices=KINDS, metavar="KIND", help=", ".join(KINDS))
    cli.add_argument("flags", nargs=argparse.REMAINDER, help="the component's own flags")
    args = cli.parse_args(argv)
    if args.kind == "frontend":
        return frontend_main(args.flags, hooks=FRONTEND_HOOKS, prog=f"{PROG} frontend")
    return functions.main([args.kind, *args.flags], decorate=instrument_poller,
                          prog=f"{PROG} {args.kind}")


if __name__ == "__main__":
    sys.exit(main())
