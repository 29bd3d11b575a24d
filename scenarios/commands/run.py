"""``exodus run SCENARIO``: drive, drain, audit, report; exit with the verdict's code.

0 sound; 1 unsound or unproven (a core check could not be judged, e.g. ``--target`` without
a state dir); 2 could not run or interrupted. ``--allow-partial`` makes an unproven verdict
exit 0 under the headline PARTIAL (the verdict still says ``sound: false``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from exodus2045.app_under_test.flaws import parse_flaws
from exodus2045.app_under_test.settings import ENV_RUNS_DIR


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", help="drive and audit this pipeline URL (HTTP only)")
    parser.add_argument("--state-dir", type=Path,
                        help="a stack started by `exodus up --state-dir DIR`: drive it and read "
                             "its store and queues directly")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<UTC>-<scenario>)")
    parser.add_argument("--runs-dir", type=Path,
                        default=Path(os.environ.get(ENV_RUNS_DIR) or "runs"),
                        help="where run folders go (default $EXODUS_RUNS_DIR or runs)")
    parser.add_argument("--seed", type=int, help="override the scenario's seed")
    parser.add_argument("--evacuees", type=int, help="override [load] evacuees")
    parser.add_argument("--arrival-rate", type=float, help="override [load] arrival_rate")
    parser.add_argument("--mars-share", type=float, help="override [load] mars_share")
    parser.add_argument("--infiltrator-share", type=float,
                        help="override [load] infiltrator_share")
    parser.add_argument("--flaws", help="seeded flaws for the run's own stack (e.g. raw-wall)")
    parser.add_argument("--browser", action="store_true", default=None,
                        help="also judge pages in headless Chromium")
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="run the swarm as a Locust master plus N local worker processes")
    parser.add_argument("--expect-workers", type=int, default=0, metavar="N",
                        help="also wait for N workers from other hosts (`exodus swarm worker`; "
                             "needs EXODUS_JOIN_TOKEN)")
    parser.add_argument("--master-bind-host", default="127.0.0.1", metavar="HOST",
                        help="the master's address for workers (a private one: the channel "
                             "is not encrypted)")
    parser.add_argument("--master-bind-port", type=int, default=0, metavar="PORT",
                        help="the master's port (default: a free one)")
    parser.add_argument("--find-capacity", action="store_true",
                        help="raise the arrival rate step by step on one stack (each step an "
                             "audited run) until a step is not sound; capacity.json says where")
    parser.add_argument("--max-rate", type=float, metavar="R",
                        help="with --find-capacity: the highest arrival rate to try")
    parser.add_argument("--allow-partial", action="store_true",
                        help="exit 0 (headline PARTIAL) when nothing failed but a core check "
                             "could not be judged; the verdict stays not sound")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "run", help="run a scenario and audit it (exit 0 sound, 1 unsound or unproven)")
    parser.add_argument("scenario", help="a scenario file, or a name from scenarios/")
    add_run_arguments(parser)
    parser.set_defaults(func=run)


def options_from(args: argparse.Namespace, scenario_spec: str):
    from exodus2045.app_under_test.errors import ConfigError
    from exodus2045.scenarios.runner import RunOptions
    from exodus2045.scenarios.scenario import load_scenario

    scenario = load_scenario(scenario_spec)
    if args.flaws and (args.target or args.state_dir):
        raise ConfigError("--flaws applies to the run's own stack; for an attached stack "
                          "start it with `exodus up --flaws ...`")
    scenario = scenario.with_overrides(
        seed=args.seed, evacuees=args.evacuees, arrival_rate=args.arrival_rate,
        mars_share=args.mars_share, infiltrator_share=args.infiltrator_share,
        flaws=parse_flaws(args.flaws) if args.flaws else None, browser=args.browser)
    if scenario.browser:
        _browser_or_refuse()
    return RunOptions(scenario=scenario, target=args.target, state_dir=args.state_dir,
                      out=args.out, runs_dir=args.runs_dir, allow_partial=args.allow_partial,
                      swarm=_swarm_layout(args))


def _swarm_layout(args: argparse.Namespace):
    from exodus2045.scenarios.distributed import SwarmLayout

    return SwarmLayout(workers=args.workers or 0, remote=args.expect_workers or 0,
                       bind_host=args.master_bind_host,
                       bind_port=args.master_bind_port or 0).check()


def _browser_or_refuse() -> None:
    """Refuse a run that asks for the real-browser oracle when there is none, before it starts
    (the ``browser`` extra is optional; without this the run would end in an error)."""
    from exodus2045.app_under_test.errors import ConfigError
    from exodus2045.reports.browser_launch import browser_available

    reason = browser_available()
    if reason:
        raise ConfigError(f"the real-browser oracle (--browser / [audit] browser) needs "
                          f"Playwright and Chromium, but {reason}")


def run(args: argparse.Namespace) -> int:
    from exodus2045.reports.terminal import print_verdict
    from exodus2045.scenarios.runner import run_scenario

    options = options_from(args, args.scenario)
    if getattr(args, "find_capacity", False):
        return _find_capacity(options, args.max_rate)
    result = run_scenario(options)
    print_verdict(result.verdict, result.run_dir)
    return result.exit_code


def _find_capacity(options, max_rate: float | None) -> int:
    from exodus2045.scenarios.capacity import find_capacity

    def report(step: dict) -> None:
        failed = f" (failed: {', '.join(step['failed'])})" if step["failed"] else ""
        print(f"rate {step['rate']:>8g}/s  {step['outcome'].upper():<11} p95 "
              f"{step['p95_ms']} ms  throughput {step['throughput']}/s{failed}", flush=True)

    capacity = find_capacity(options, max_rate, report)
    summary = capacity.to_json()
    print(f"highest sound rate: {summary['highest_sound_rate']}/s; first not sound: "
          f"{summary['first_unsound_rate']}/s ({summary['why']})")
    print(f"capacity: {capacity.run_dir / 'capacity.json'}")
    return capacity.exit_code
