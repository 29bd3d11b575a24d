"""``exodus bench drain``: how fast parsers and pod workers empty a full queue.

Pre-fills the frontend queue with N wishes exactly as the frontend would enqueue them, then
starts the real poller processes and times until every wish is stored (and the queues are
empty). Figures: ``wishes``, ``seconds``, ``wishes_per_s``.
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
from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.statedir import StateDir

NAME = "drain"
HELP = "pre-fill N wishes, start parsers and pod workers, time until all are stored"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--wishes", type=int, default=65_000)
    parser.add_argument("--parsers", type=int, default=2)
    parser.add_argument("--pod-workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")


def prefill(state: StateDir, wishes: int, run_id: str) -> None:
    backend = open_local(state)
    now = time.time()
    batch: list[OutgoingMessage] = []
    for n in range(wishes):
        batch.append(OutgoingMessage(json.dumps({
            "wish_id": str(uuid.uuid4()), "run_id": run_id, "source": "swarm",
            "evacuee": f"Evacuee {n}", "destination": "mars" if n % 5 < 3 else "jupiter",
            "message": f"Remember the oceans, wish number {n}.", "accepted_at": now,
        })))
        if len(batch) == 500:
            backend.wishes.send_batch(batch)
            batch = []
    backend.wishes.send_batch(batch)
    backend.close()


def run(args: argparse.Namespace) -> dict:
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
