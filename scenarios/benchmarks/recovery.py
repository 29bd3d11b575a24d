"""``exodus bench recovery``: how long the pipeline takes to catch up after a parser outage.

Protocol: start a real stack (Supervisor, temp state dir, port 0) with the chaos hold
predicate wired in; switch on ``kill parser`` with a duration (every parser held down, as
a scenario would) and wait until the supervisor has them down; for ``--seconds`` enqueue ``--rate`` wishes a second straight through the
frontend's intake in this process (the same claim-and-enqueue commit the frontend makes,
so no HTTP client caps the rate); then switch the fault off and time until every wish is
stored and both queues are empty. Arrivals stop at the release, so ``drain_seconds`` is the
backlog divided by what the restarted pipeline can do, plus the restart itself.

Figures: ``arrival_per_s`` (achieved), ``backlog`` (wishes queued at the release),
``drain_seconds``. The goal is a drain within 30 s; a benchmark reports, it does not fail.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from exodus2045.app_under_test.errors import ExodusError, StateDirError
from exodus2045.app_under_test.settings import StackConfig

if TYPE_CHECKING:  # the stack is imported when the bench runs, not when `exodus` parses
    from exodus2045.app_under_test.backends.local import LocalBackend
    from exodus2045.app_under_test.backends.local.intake import Submission
    from exodus2045.app_under_test.supervisor import Supervisor

NAME = "recovery"
HELP = "hold the parsers down while wishes arrive, release, time until the backlog drains"
TICK_S = 0.01  # pacing granularity of the arrivals


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="how long the parsers are held down while wishes arrive (30)")
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="wishes enqueued per second during the outage (1000)")
    parser.add_argument("--parsers", type=int, default=2)
    parser.add_argument("--pod-workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="give up waiting for the drain after this many seconds")


def run(args: argparse.Namespace) -> dict:
    from exodus2045.app_under_test.backends.local import open_local
    from exodus2045.chaos.stack import chaos_supervisor

    with tempfile.TemporaryDirectory(prefix="exodus-bench-recovery-") as tmp:
        root = Path(tmp)
        config = StackConfig(state_dir=root, host="127.0.0.1", port=0, frontends=1,
                             parsers=args.parsers, pod_workers=args.pod_workers)
        supervisor = chaos_supervisor(config)
        supervisor.start()
        backend = open_local(supervisor.state)
        try:
            _wait_running(supervisor, deadline_s=60.0)
            return _measure(supervisor, backend, args)
        finally:
            backend.close()
            supervisor.stop()


def _wait_running(supervisor: Supervisor, deadline_s: float) -> None:
    """Parsers and pod workers up (the frontend is not needed: we enqueue in-process)."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        comps = supervisor.state.read_stack()["components"]
        if all(c["pid"] for c in comps if c["kind"] != "frontend"):
            return
        time.sleep(0.05)
    raise StateDirError(f"parsers and pod workers not running after {deadline_s:.0f}s; see "
                        f"{supervisor.state.logs}")


def _wait_held(supervisor: Supervisor, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        parsers = [c for c in supervisor.state.read_stack()["components"] if c["kind"] == "parser"]
        if all(c["state"] == "held" and not c["pid"] for c in parsers):
            return
        time.sleep(0.02)
    raise StateDirError(f"the parsers were not held down within {deadline_s:.0f}s")


def _measure(supervisor: Supervisor, backend: LocalBackend, args: argparse.Namespace) -> dict:
    from exodus2045.chaos.step import ChaosStep
    from exodus2045.chaos.switch import switch_on
    from exodus2045.chaos.timeline import Timeline

    t0 = time.time()
    timeline = Timeline(supervisor.state.root / "timeline.jsonl", t0, source="scenario")
    outage = ChaosStep(at_s=0.0, fault="kill", target="parser", duration_s=args.seconds)
    hold = switch_on(outage, supervisor.state, timeline, seed=2045)
    if hold is None:  # probability 1 is never skipped; this would be a bug in the switch
        raise ExodusError("the parser outage did not start")
    try:
        _wait_held(supervisor, deadline_s=10.0)  # arrivals start once no parser can take them
        sent, seconds = _arrive(backend, args.rate, args.seconds)
        depth = backend.wishes.depth()
    finally:
        hold.off()
    released = time.perf_counter()
    backlog = depth.visible + depth.in_flight
    deadline = released + args.timeout
    while True:
        stored = backend.store.count()
        if stored >= sent and _empty(backend):
            break
        if time.perf_counter() > deadline:
            raise ExodusError(f"the backlog did not drain within {args.timeout:g}s: {stored} of "
                              f"{sent} wishes stored")
        time.sleep(0.02)
    return {"arrival_per_s": round(sent / seconds, 1), "backlog": backlog,
            "drain_seconds": round(time.perf_counter() - released, 3)}


def _empty(backend: LocalBackend) -> bool:
    return all(q.depth().visible + q.depth().in_flight == 0 for q in (backend.wishes,
                                                                        backend.parsed))


def _arrive(backend: LocalBackend, rate: float, seconds: float) -> tuple[int, float]:
    """Enqueue ``rate`` wishes a second for ``seconds``, paced; returns (sent, elapsed)."""
    total = int(rate * seconds)
    sent, n = 0, 0
    started = time.perf_counter()
    while sent < total:
        elapsed = time.perf_counter() - started
        due = min(total, int(rate * elapsed)) - sent
        if due <= 0:
            time.sleep(TICK_S)
            continue
        batch = [_submission(n + i) for i in range(due)]
        backend.intake.accept(batch)
        sent += due
        n += due
    return sent, max(time.perf_counter() - started, 1e-9)


def _submission(n: int) -> Submission:
    """A wish exactly as the frontend would have enqueued it after validation."""
    from exodus2045.app_under_test.backends.local.intake import Submission
    from exodus2045.app_under_test.wish import content_digest

    clean = {"wish_id": str(uuid.uuid4()), "evacuee": f"Evacuee {n}",
             "destination": "mars" if n % 5 < 3 else "jupiter",
             "message": f"Keep the lights on for us, wish number {n}."}
    body = json.dumps({**clean, "run_id": "bench-recovery", "source": "swarm",
                       "accepted_at": time.time()}, ensure_ascii=False)
    return Submission(clean["wish_id"], content_digest(clean), body)
