"""The two Lambda functions as runnable processes: ``python -m exodus2045.app_under_test.functions ROLE``.

Wires a role's handler to its queues and store (clients are built here, in the process
that runs, never at import) and runs a :class:`Poller` until SIGTERM/SIGINT. A process that
wants more than the plain pipeline (chaos's entry point, which wraps the ports with faults)
calls :func:`main` with a ``decorate`` hook: the pipeline itself knows nothing of chaos.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

from exodus2045.app_under_test import parser as parser_fn
from exodus2045.app_under_test import pod_worker as pod_worker_fn
from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.lifeline import watch_parent
from exodus2045.app_under_test.poller import Poller
from exodus2045.app_under_test.settings import FUNCTION_ROLES, PollerConfig
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.app_under_test.tracing_sdk import configure as configure_tracing
from exodus2045.app_under_test.tracing_sdk import flush_spans

ROLES = FUNCTION_ROLES

PROG = "python -m exodus2045.app_under_test.functions"

#: ``decorate(poller, backend, config) -> poller``: a hook given by the process that runs the
#: poller (chaos wraps the backend's ports with it) before the poller starts.
PollerDecorator = Callable[[Poller, LocalBackend, PollerConfig], Poller]


def build_poller(config: PollerConfig, backend: LocalBackend) -> Poller:
    name = f"{config.role}:{config.index}"
    if config.role == "parser":
        handler = parser_fn.make_handler(backend.parsed, backend.wishes, config.flaws)
        queue = backend.wishes
    elif config.role == "pod-worker":
        handler = pod_worker_fn.make_handler(backend.store, backend.parsed, config.flaws)
        queue = backend.parsed
    else:
        raise ExodusError(f"unknown role {config.role!r}; expected one of {', '.join(ROLES)}")
    poller = Poller(queue, handler, name, config.batch_size, config.wait_time_s)
    queue.stop_waiting = poller.stop_event  # a stop ends an idle long poll now, not a second on
    return poller


def main(argv: list[str] | None = None, *, decorate: PollerDecorator | None = None,
         prog: str = PROG) -> int:
    cli = argparse.ArgumentParser(prog=prog)
    cli.add_argument("role", choices=ROLES)
    cli.add_argument("--index", type=int, default=0)
    args = cli.parse_args(argv)
    logging.Formatter.converter = time.gmtime  # UTC: a run report places lines by their time
    watch_parent()  # started by a supervisor: stop when it dies (app_under_test/lifeline.py)
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {args.role}:{args.index} %(levelname)s %(message)s"
    )
    try:
        config = PollerConfig.from_env(args.role, os.environ, index=args.index)
        backend = open_local(StateDir(config.state_dir), config.queue, config.flaws)
    except ExodusError as exc:
        print(f"{args.role}: {exc}", file=sys.stderr)
        return 2
    name = f"{args.role}:{args.index}"
    logging.info("%s: tracing %s", name, configure_tracing(name, config.state_dir))
    poller = build_poller(config, backend)
    if decorate is not None:
        poller = decorate(poller, backend, config)

    def stop(signum: int, frame: object) -> None:
        poller.stop_event.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    poller.run()
    backend.close()
    flush_spans()
    return 0


if __name__ == "__main__":
    sys.exit(main())
