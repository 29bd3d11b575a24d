"""``exodus swarm worker --master HOST:PORT``: one Locust worker for a master on another host.

Thin over Locust's ``--worker --master-host --master-port``: the worker needs no scenario
file, seed or run key (the master sends the run with its spawn orders; the run key only by
the swarm's own message), only the join token in ``EXODUS_JOIN_TOKEN``, the same secret the
master was given (:mod:`exodus2045.locustfiles.join`). It runs isolated from the user's
Locust configuration and tethered to this command, like every swarm process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.settings import ENV_JOIN_TOKEN


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("swarm", help="swarm processes for a distributed run")
    roles = parser.add_subparsers(dest="role", metavar="ROLE", required=True)
    worker = roles.add_parser(
        "worker", help="a Locust worker for `exodus run --expect-workers` on another host "
                       "(needs EXODUS_JOIN_TOKEN)")
    worker.add_argument("--master", required=True, metavar="HOST:PORT",
                        help="the master's --master-bind-host:--master-bind-port")
    worker.set_defaults(func=run)


def master_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--master {text!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def run(args: argparse.Namespace) -> int:
    from exodus2045.app_under_test.lifeline import tethered
    from exodus2045.scenarios.distributed import worker_command
    from exodus2045.scenarios.locust_isolation import isolate

    host, port = master_address(args.master)
    if not os.environ.get(ENV_JOIN_TOKEN):
        raise ConfigError(f"set {ENV_JOIN_TOKEN} to the master's join token: the master "
                          "answers no worker without it")
    home = Path(tempfile.mkdtemp(prefix="exodus-worker-"))
    try:
        isolation = isolate(home)
        proc = subprocess.Popen(worker_command(host, port), stdin=subprocess.DEVNULL,
                                cwd=isolation.cwd, start_new_session=True,
                                **tethered(isolation.env, death_signal=signal.SIGTERM))
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            return proc.wait()
    finally:
        shutil.rmtree(home, ignore_errors=True)
