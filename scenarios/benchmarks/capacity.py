"""``exodus bench capacity``: the bundled stack's knee next to its frontend's accept ceiling.

Two measurements on this machine, one after the other, so the ratio says how much of what the
frontend alone could accept the whole pipeline sustains while staying sound:

- the knee: ``--find-capacity`` (:mod:`exodus2045.scenarios.capacity`) on a bundled scenario
  (``smoke`` by default: its stack, its SLO) started at ``--start-rate``, each step
  ``--step-seconds`` of arrivals, up to ``--max-rate``; ``knee_per_s`` is the highest rate whose
  audited run was sound (the SLO included), ``first_unsound_per_s`` the first that was not;
- the ceiling: ``exodus bench frontend``'s measurement (:mod:`.frontend`: one frontend process,
  one keep-alive client, ``POST /api/wishes`` answered 202), ``accept_per_s``.

``ratio`` is ``knee_per_s / accept_per_s``. The swarm that drives the search shares the
machine's cores with the stack, as it does in any local run; the frontend client does too. A
benchmark reports, it does not fail on a slow machine; a search with no sound step reports a
knee of 0.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from exodus2045.scenarios.benchmarks import frontend

NAME = "capacity"
HELP = "the knee of the bundled stack (--find-capacity) vs the frontend's accept ceiling"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", default="smoke",
                        help="the scenario whose stack and SLO are searched (default smoke)")
    parser.add_argument("--start-rate", type=float, default=50.0,
                        help="first step's arrival rate, doubled from there (default 50)")
    parser.add_argument("--max-rate", type=float, default=3200.0,
                        help="highest arrival rate tried (default 3200)")
    parser.add_argument("--step-seconds", type=float, default=4.0,
                        help="arrival window of each step (default 4; at most 10)")
    parser.add_argument("--max-in-flight", type=int, default=256,
                        help="swarm carriers, so the swarm is not what saturates (default 256)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="measured seconds of the frontend ceiling (default 5)")
    parser.add_argument("--connections", type=int, default=48,
                        help="the ceiling client's keep-alive connections (default 48)")
    parser.add_argument("--runs-dir", type=Path, default=None,
                        help="keep the search's run folders here (default: a temporary folder)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    knee = search(args)
    ceiling = frontend.run(argparse.Namespace(seconds=args.seconds,
                                              connections=args.connections, rounds=1))
    accept = float(ceiling["accept_per_s"])
    return {
        "knee_per_s": knee["knee_per_s"],
        "first_unsound_per_s": knee["first_unsound_per_s"],
        "why": knee["why"],
        "accept_per_s": accept,
        "ratio": round(knee["knee_per_s"] / accept, 3) if accept else 0.0,
        "steps": knee["steps"],
        "step_seconds": knee["step_seconds"],
    }


def search(args: argparse.Namespace) -> dict[str, Any]:
    from exodus2045.scenarios.capacity import find_capacity
    from exodus2045.scenarios.runner import RunOptions
    from exodus2045.scenarios.scenario import load_scenario

    start = max(1.0, float(args.start_rate))
    window = min(10.0, max(0.5, float(args.step_seconds)))
    scenario = load_scenario(args.scenario).with_overrides(
        arrival_rate=start, evacuees=max(1, round(start * window)),
        max_in_flight=int(args.max_in_flight))
    with tempfile.TemporaryDirectory(prefix="exodus-bench-capacity-") as tmp:
        runs = Path(args.runs_dir) if args.runs_dir else Path(tmp)
        capacity = find_capacity(RunOptions(scenario=scenario, runs_dir=runs),
                                 max(start, float(args.max_rate)))
        summary = capacity.to_json()
    return {
        "knee_per_s": float(summary["highest_sound_rate"] or 0.0),
        "first_unsound_per_s": summary["first_unsound_rate"],
        "why": summary["why"],
        "steps": len(summary["steps"]),
        "step_seconds": window,
    }
