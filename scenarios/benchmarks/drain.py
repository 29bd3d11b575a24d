"""``exodus bench drain``: how fast parsers and pod workers empty a full queue.

Pre-fills the frontend queue with N wishes exactly as the frontend would enqueue them, then
starts the real poller processes and times until every wish is stored (and the queues are
empty). Figures: ``wishes``, ``seconds``, ``wishes_per_s``.

``--backend aws --stack NAME`` times a deployed stack instead: its parser's event source
mapping is disabled while the wishes queue is filled, then enabled, and the clock runs until
the table holds every wish (the stack's Lambdas do the work). The local backend is timed
beside it with the same number of wishes, and ``ratio`` is aws over local -- evidence, not a
goal: on a local AWS the emulator's SQS is the bottleneck.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.statedir import StateDir

NAME = "drain"
HELP = "pre-fill N wishes, start parsers and pod workers, time until all are stored"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wishes", type=int, default=65_000)
    parser.add_argument("--parsers", type=int, default=2)
    parser.add_argument("--pod-workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    parser.add_argument("--backend", choices=("local", "aws"), default="local",
                        help="aws: time the stack --stack names, beside local, as a ratio")
    parser.add_argument("--stack", help="with --backend aws: the deployed stack")
    parser.add_argument("--aws-endpoint", metavar="URL",
                        help="a local AWS (default: $AWS_ENDPOINT_URL, else AWS itself)")


def _bodies(wishes: int, run_id: str):
    now = time.time()
    for n in range(wishes):
        yield OutgoingMessage(json.dumps({
            "wish_id": str(uuid.uuid4()), "run_id": run_id, "source": "swarm",
            "evacuee": f"Evacuee {n}", "destination": "mars" if n % 5 < 3 else "jupiter",
            "message": f"Remember the oceans, wish number {n}.", "accepted_at": now,
        }))


def _send_all(queue, wishes: int, run_id: str, chunk: int = 500) -> None:
    batch: list[OutgoingMessage] = []
    for message in _bodies(wishes, run_id):
        batch.append(message)
        if len(batch) == chunk:
            queue.send_batch(batch)
            batch = []
    if batch:
        queue.send_batch(batch)


def prefill(state: StateDir, wishes: int, run_id: str) -> None:
    from exodus2045.app_under_test.backends.local import open_local

    backend = open_local(state)
    _send_all(backend.wishes, wishes, run_id)
    backend.close()


def run(args: argparse.Namespace) -> dict:
    if args.backend == "aws":
        return run_aws(args)
    return run_local(args)


def run_aws(args: argparse.Namespace) -> dict:
    from exodus2045.app_under_test.backends.aws import open_aws
    from exodus2045.app_under_test.backends.aws.clients import (
        botocore_config,
        make_clients,
        make_session,
    )
    from exodus2045.app_under_test.errors import ConfigError
    from exodus2045.app_under_test.settings import AwsConfig
    from exodus2045.scenarios.aws_stack import find_stack

    if not args.stack:
        raise ConfigError("bench drain --backend aws needs --stack NAME (a deployed stack)")
    config = AwsConfig.from_env(os.environ, endpoint_url=args.aws_endpoint)
    stack = find_stack(args.stack, config)
    backend = open_aws(make_clients(config), stack.resources)
    lam = make_session(config).client("lambda", endpoint_url=config.endpoint_url,
                                      config=botocore_config(config))
    mapping = stack.outputs["ParserMappingId"]
    run_id = f"bench-drain-{uuid.uuid4().hex[:8]}"
    lam.update_event_source_mapping(UUID=mapping, Enabled=False)
    try:
        _send_all(backend.wishes, args.wishes, run_id, chunk=10)
    finally:
        lam.update_event_source_mapping(UUID=mapping, Enabled=True)
    started = time.perf_counter()
    deadline = started + args.timeout
    stored = 0
    while time.perf_counter() < deadline:
        stored = sum(1 for _ in backend.store.iterate(run_id))
        if stored >= args.wishes:
            break
        time.sleep(1.0)
    seconds = time.perf_counter() - started
    local = run_local(args)
    aws_rate = round(stored / seconds, 1)
    return {"wishes": stored, "seconds": round(seconds, 3), "wishes_per_s": aws_rate,
            "backend": "aws", "local_wishes_per_s": local["wishes_per_s"],
            "ratio": round(aws_rate / local["wishes_per_s"], 3) if local["wishes_per_s"] else None}


def run_local(args: argparse.Namespace) -> dict:
    from exodus2045.app_under_test.backends.local import open_local

    with tempfile.TemporaryDirectory(prefix="exodus-bench-drain-") as tmp:
        state = StateDir(Path(tmp)).ensure()
        prefill(state, args.wishes, "bench-drain")
        env = {**os.environ, s.ENV_STATE_DIR: str(state.root), s.ENV_FLAWS: "",
               s.ENV_WAIT_TIME: "0.2"}
        roles = [("parser", i) for i in range(args.parsers)]
        roles += [("pod-worker", i) for i in range(args.pod_workers)]
        backend = open_local(state)
        started = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, "-m", "exodus2045.app_under_test.functions", role,
                              "--index", str(i)], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            for role, i in roles
        ]
        try:
            deadline = started + args.timeout
            while backend.store.count() < args.wishes and time.perf_counter() < deadline:
                time.sleep(0.25)
            seconds = time.perf_counter() - started
            stored = backend.store.count()
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=10)
            backend.close()
    return {"wishes": stored, "seconds": round(seconds, 3),
            "wishes_per_s": round(stored / seconds, 1)}
