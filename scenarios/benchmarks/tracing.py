"""``exodus bench tracing``: what spans cost, tracing off vs head-sampled vs every span.

The same short load, side by side, on this machine in this run (docs/architecture.md
"Tracing": the goal is at most 10% off throughput with tracing on):

- **accept**: three real frontend processes, one per mode, each with its own state dir,
  driven in turn by the same client as ``exodus bench frontend`` (distinct valid wishes, a
  wish counts only when answered 202). The modes alternate for ``--rounds`` rounds, so a
  neighbour's load drifting during the run weighs on all three alike.
- **drain**: per mode, one parser and one pod worker (the real poller processes) are started
  on an empty queue; once they are up, ``--wishes`` wishes are enqueued exactly as the
  frontend enqueues them (with the swarm's ``traceparent``) and the clock runs until all are
  stored. Start-up is outside the clock, so the figure is the hops' own cost.

Modes: ``off`` (``EXODUS_TRACING=off``: no SDK, hop timestamps only), ``sampled`` (spans of
``--sample`` of the wishes, 0.1 by default) and ``full`` (every span, to ``spans.jsonl``).
Hop timestamps are complete in all three. Each round runs the modes back to back (in a
rotated order); a mode's ratio is the median over the rounds of its throughput over
``off``'s in the same round, with the range beside it. The server CPU per wish is there too,
and its ratio (off's CPU per wish over the mode's: the throughput a CPU-bound server keeps):
on a shared machine it is steadier than a rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.scenarios.benchmarks.frontend import BenchError, FrontendProcess, Tally, drive

if TYPE_CHECKING:  # the backend and OpenTelemetry load when the bench runs, not at parse time
    from exodus2045.app_under_test.ports import OutgoingMessage

NAME = "tracing"
HELP = "throughput with tracing off, head-sampled and full, side by side"

MODES = ("off", "sampled", "full")
READY_TIMEOUT_S = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="measured accept seconds per mode (default 6)")
    parser.add_argument("--connections", type=int, default=32,
                        help="concurrent keep-alive connections (default 32)")
    parser.add_argument("--wishes", type=int, default=3000,
                        help="wishes drained per mode and round (default 3000; 0: no drain)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate the modes this many times (default 2)")
    parser.add_argument("--sample", type=float, default=0.1,
                        help="the sampled mode's share of wishes with spans (default 0.1)")


def mode_env(mode: str, sample: float) -> dict[str, str]:
    if mode == "off":
        return {s.ENV_TRACING: "off"}
    return {s.ENV_TRACING: "on", s.ENV_TRACE_SAMPLE: str(sample if mode == "sampled" else 1.0)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    seconds = max(0.5, float(args.seconds))
    connections = max(1, int(args.connections))
    rounds = max(1, int(args.rounds))
    sample = min(max(float(args.sample), 0.0), 1.0)
    wishes = max(0, int(args.wishes))
    accept = {mode: Tally() for mode in MODES}
    drained = {mode: Drained() for mode in MODES}
    accept_rounds: list[dict[str, float]] = []
    drain_rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="exodus-bench-tracing-") as tmp, ExitStack() as stack:
        servers = {}
        for mode in MODES:
            state = Path(tmp) / f"frontend-{mode}"
            state.mkdir()
            servers[mode] = stack.enter_context(FrontendProcess(state, mode_env(mode, sample)))
        for n in range(rounds):
            this_round = {}
            for mode in _rotated(n):
                server = servers[mode]
                before = server.cpu_seconds()
                result = drive(server.url, "wishes", seconds / rounds, connections)
                after = server.cpu_seconds()
                accept[mode].add(result, None if before is None or after is None
                                 else after - before)
                this_round[mode] = result["ok"] / result["seconds"] if result["seconds"] else 0
            accept_rounds.append(this_round)
        for n in range(rounds if wishes else 0):
            this_round = {}
            for mode in _rotated(n):
                stored, took, cpu = drain(Path(tmp) / f"drain-{mode}-{n}",
                                          mode_env(mode, sample), wishes)
                drained[mode].add(stored, took, cpu)
                this_round[mode] = stored / took if took else 0.0
            drain_rounds.append(this_round)
    out = figures(accept, drained, sample, seconds, connections, wishes * rounds)
    out.update(round_ratios("accept", accept_rounds))
    out.update(round_ratios("drain", drain_rounds))
    return out


def _rotated(n: int) -> tuple[str, ...]:
    """Round n starts with mode n: no mode always runs first (or last) in its round."""
    k = n % len(MODES)
    return MODES[k:] + MODES[:k]


def round_ratios(phase: str, rounds: list[dict[str, float]]) -> dict[str, Any]:
    """Per round, each mode's throughput over ``off``'s in the same round (seconds apart, so
    a neighbour's load weighs on both alike): the median and the range over the rounds."""
    out: dict[str, Any] = {}
    for mode in MODES[1:]:
        ratios = sorted(r[mode] / r["off"] for r in rounds if r.get("off"))
        if ratios:
            out[f"{phase}_ratio_{mode}"] = round(statistics.median(ratios), 3)
            out[f"{phase}_ratio_{mode}_min"] = round(ratios[0], 3)
            out[f"{phase}_ratio_{mode}_max"] = round(ratios[-1], 3)
    return out


class Drained:
    """One mode's drains summed over its rounds."""

    def __init__(self) -> None:
        self.wishes = 0
        self.seconds = 0.0
        self.cpu_s = 0.0

    def add(self, wishes: int, seconds: float, cpu_s: float) -> None:
        self.wishes += wishes
        self.seconds += seconds
        self.cpu_s += cpu_s

    @property
    def rate(self) -> float:
        return self.wishes / self.seconds if self.seconds else 0.0


def _ratio(value: float | None, base: float | None) -> float | None:
    return round(value / base, 3) if value and base else None


def figures(accept: dict[str, Tally], drained: dict[str, Drained], sample: float,
            seconds: float, connections: int, wishes: int) -> dict[str, Any]:
    out: dict[str, Any] = {"sample": sample, "seconds": seconds, "connections": connections,
                           "drain_wishes": wishes}
    for mode in MODES:
        out[f"accept_per_s_{mode}"] = round(accept[mode].rate, 1)
        out[f"accept_ratio_{mode}"] = _ratio(accept[mode].rate, accept["off"].rate)
        out[f"accept_cpu_us_{mode}"] = accept[mode].cpu_us
        # what a CPU-bound server would reach: off's CPU per wish over this mode's
        out[f"accept_cpu_ratio_{mode}"] = _ratio(accept["off"].cpu_us, accept[mode].cpu_us)
        out[f"accept_errors_{mode}"] = accept[mode].errors
        if wishes:
            d = drained[mode]
            out[f"drain_per_s_{mode}"] = round(d.rate, 1)
            out[f"drain_ratio_{mode}"] = _ratio(d.rate, drained["off"].rate)
            out[f"drain_cpu_us_{mode}"] = round(d.cpu_s / d.wishes * 1e6, 1) if d.wishes else None
            off = drained["off"]
            out[f"drain_cpu_ratio_{mode}"] = _ratio(off.cpu_s / off.wishes if off.wishes else None,
                                                    d.cpu_s / d.wishes if d.wishes else None)
    return out


def table(figures: dict[str, Any]) -> Any:
    """Modes as rows: a person compares down the columns."""
    from rich.table import Table

    title = (f"exodus bench tracing (sampled = {figures['sample']:.0%} of wishes; "
             f"ratio = mode / off)")
    out = Table(title=title)
    columns = [("accept/s", "accept_per_s"), ("ratio", "accept_ratio"),
               ("range", "accept_range"), ("CPU µs/wish", "accept_cpu_us"),
               ("CPU ratio", "accept_cpu_ratio")]
    if figures.get("drain_wishes"):
        columns += [("drain/s", "drain_per_s"), ("ratio", "drain_ratio"),
                    ("range", "drain_range"), ("CPU µs/wish", "drain_cpu_us"),
                    ("CPU ratio", "drain_cpu_ratio")]
    out.add_column("tracing")
    for header, _ in columns:
        out.add_column(header, justify="right")
    for mode in MODES:
        out.add_row(mode, *(_cell(figures, key, mode) for _, key in columns))
    return out


def _cell(figures: dict[str, Any], key: str, mode: str) -> str:
    if key.endswith("_range"):
        low = figures.get(f"{key[:-6]}_ratio_{mode}_min")
        high = figures.get(f"{key[:-6]}_ratio_{mode}_max")
        return "-" if low is None else f"{low:.2f}-{high:.2f}"
    value = figures.get(f"{key}_{mode}")
    if value is None:
        return "-"
    return f"{value:,.3f}" if "ratio" in key else f"{value:,.1f}"


# -- the drain: the handlers' spans -------------------------------------------------------
def _messages(count: int, run_id: str) -> Iterator[OutgoingMessage]:
    from exodus2045.app_under_test.ports import OutgoingMessage
    from exodus2045.app_under_test.tracing import TRACEPARENT, swarm_traceparent, trace_id_for

    now = time.time()
    for n in range(count):
        wish_id = str(uuid.uuid4())
        body = (f'{{"wish_id":"{wish_id}","run_id":"{run_id}","source":"swarm",'
                f'"evacuee":"Evacuee {n}","destination":"{"mars" if n % 5 < 3 else "jupiter"}",'
                f'"message":"Remember the oceans, wish number {n}.","accepted_at":{now}}}')
        yield OutgoingMessage(body, {TRACEPARENT: swarm_traceparent(trace_id_for(wish_id))})


@contextmanager
def pollers(state: StateDir, env: dict[str, str]) -> Iterator[list[subprocess.Popen]]:
    """One parser and one pod worker, up (tracing configured) when this yields."""
    base = {k: v for k, v in os.environ.items()
            if k not in s.ALL_ENV and not k.startswith("OTEL_EXPORTER_OTLP")}
    base.update({s.ENV_STATE_DIR: str(state.root), s.ENV_FLAWS: "", s.ENV_WAIT_TIME: "0.2",
                 **env})
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        for role in ("parser", "pod-worker"):
            log_path = state.root / f"{role}.log"
            logs.append(log_path)
            with open(log_path, "wb") as err:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "exodus2045.app_under_test.functions", role],
                    env=base, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not all(b"tracing" in p.read_bytes() for p in logs):
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                tail = " / ".join(p.read_text(errors="replace")[-300:] for p in logs)
                raise BenchError(f"the drain's pollers did not start: {tail}")
            time.sleep(0.05)
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _cpu(procs: list[subprocess.Popen]) -> float:
    import psutil

    total = 0.0
    for p in procs:
        try:
            times = psutil.Process(p.pid).cpu_times()
        except psutil.Error as exc:
            raise BenchError(f"a drain poller is gone: {exc}") from None
        total += times.user + times.system
    return total


def drain(root: Path, env: dict[str, str], wishes: int) -> tuple[int, float, float]:
    """``(stored, seconds, poller CPU seconds)`` for ``wishes`` enqueued at once."""
    from exodus2045.app_under_test.backends.local import open_local

    root.mkdir(parents=True)
    state = StateDir(root).ensure()
    backend = open_local(state)
    try:
        with pollers(state, env) as procs:
            batch = list(_messages(wishes, "bench-tracing"))
            cpu_before = _cpu(procs)
            started = time.perf_counter()
            for i in range(0, len(batch), 500):
                backend.wishes.send_batch(batch[i:i + 500])
            deadline = started + 60.0 + wishes / 20
            while backend.store.count() < wishes:
                if time.perf_counter() > deadline:
                    raise BenchError(f"only {backend.store.count()} of {wishes} wishes stored")
                time.sleep(0.02)
            seconds = time.perf_counter() - started
            cpu = _cpu(procs) - cpu_before
            return backend.store.count(), seconds, cpu
    finally:
        backend.close()
