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
from typing import TYPE_CHECKING

from exodus2045.app_under_test.settings import FUNCTION_ROLES

if TYPE_CHECKING:
    from exodus2045.app_under_test.frontend.hooks import FrontendHooks

MODULE = "exodus2045.chaos.entry"  # what chaos/stack.py runs (and chaos/processes.py finds)
PROG = f"python -m {MODULE}"
KINDS = ("frontend", *FUNCTION_ROLES)


def frontend_hooks() -> FrontendHooks:
    """A frontend's chaos: ``frontend/queue.send`` faults in front of its intake, and the
    presenter's chaos routes."""
    from exodus2045.app_under_test.frontend.hooks import FrontendHooks
    from exodus2045.chaos.presenter import add_chaos_routes
    from exodus2045.chaos.runtime import instrument_intake

    return FrontendHooks(wrap_intake=instrument_intake, routes=(add_chaos_routes,))


def main(argv: Sequence[str] | None = None) -> int:
    """Each kind imports only its own machinery: a parser has no use for the frontend's web
    framework, and every component's imports are CPU time while a run's stack comes up."""
    cli = argparse.ArgumentParser(prog=PROG, description="Run one stack component with chaos "
                                                         "hooks; the flags after KIND are its own.")
    cli.add_argument("kind", choices=KINDS, metavar="KIND", help=", ".join(KINDS))
    cli.add_argument("flags", nargs=argparse.REMAINDER, help="the component's own flags")
    args = cli.parse_args(argv)
    if args.kind == "frontend":
        from exodus2045.app_under_test.frontend.__main__ import main as frontend_main

        return frontend_main(args.flags, hooks=frontend_hooks(), prog=f"{PROG} frontend")
    from exodus2045.app_under_test import functions
    from exodus2045.chaos.runtime import instrument_poller

    return functions.main([args.kind, *args.flags], decorate=instrument_poller,
                          prog=f"{PROG} {args.kind}")


if __name__ == "__main__":
    sys.exit(main())
