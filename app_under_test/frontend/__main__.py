"""``python -m exodus2045.app_under_test.frontend --fd N`` (under the supervisor) or ``--host --port``.

Configuration comes from the environment (``FrontendConfig.from_env``: state dir from
``EXODUS_STATE_DIR``), as the supervisor sets it for every child; exit 2 when it is wrong.
A process that wants more than the plain pipeline (chaos's entry point) calls :func:`main`
with its :class:`~exodus2045.app_under_test.frontend.hooks.FrontendHooks`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.frontend.hooks import FrontendHooks
from exodus2045.app_under_test.lifeline import watch_parent
from exodus2045.app_under_test.settings import FrontendConfig

PROG = "python -m exodus2045.app_under_test.frontend"


def main(argv: Sequence[str] | None = None, *, hooks: FrontendHooks | None = None,
         prog: str = PROG) -> int:
    parser = argparse.ArgumentParser(prog=prog, description="Serve the Exodus frontend.")
    parser.add_argument("--fd", type=int, help="an inherited listening socket to accept on")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8045)
    parser.add_argument("--index", type=int, default=0,
                        help="which frontend this is (fault target frontend:INDEX)")
    args = parser.parse_args(argv)
    watch_parent()  # started by a supervisor: stop when it dies (app_under_test/lifeline.py)
    from exodus2045.app_under_test.frontend.serve import serve  # after argument errors, not before

    try:
        serve(FrontendConfig.from_env(), fd=args.fd, host=args.host, port=args.port,
              component=f"frontend:{args.index}", hooks=hooks or FrontendHooks())
    except ExodusError as exc:
        print(f"frontend: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
