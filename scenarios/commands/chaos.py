"""``exodus chaos list | apply | clear``: faults by hand on a stack started by ``exodus up``.

``apply`` acts on the stack of ``--state-dir`` and records an ``on`` (and ``off``) line with
source ``cli`` in that dir's ``timeline.jsonl`` (``t`` counts from the stack's start). With
``--for`` it stays in the foreground for the duration and turns the fault off itself (Ctrl-C
ends it early); without, a single kill or a poison is done at once, and a port fault stays on
until ``exodus chaos clear``. Anything invalid -- fault, target, key, duration -- is one line
naming it, exit 2, before anything is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import threading
import time
from pathlib import Path

from exodus2045.app_under_test.errors import ConfigError, StateDirError
from exodus2045.app_under_test.settings import StackConfig
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos.durations import DurationError, format_duration, parse_duration
from exodus2045.scenarios.commands.deploy import stack_name


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("chaos", help="list faults, apply one to a running stack, clear them")
    chaos_sub = parser.add_subparsers(dest="chaos_command", metavar="ACTION")
    chaos_sub.required = True
    default_dir = str(StackConfig.from_env(os.environ).state_dir)

    p = chaos_sub.add_parser("list", help="every fault with its targets and keys")
    p.add_argument("--json", action="store_true", help="print one JSON array")
    p.set_defaults(func=run_list)

    p = chaos_sub.add_parser("apply", help="turn one fault on (for a while) on a running stack")
    p.add_argument("fault", help="fault name (see `exodus chaos list`)")
    p.add_argument("--target", required=True,
                   help="parser, parser:0, pod-worker/store.put, frontend/queue.send, ...")
    p.add_argument("--for", dest="duration", default=None, metavar="DURATION",
                   help="how long, e.g. 20s or 500ms (kill: hold it down that long)")
    p.add_argument("--probability", default="1", help="0 < P <= 1 (default 1)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="fault-specific key, e.g. ms=200 or kinds=oversize,malformed-json")
    p.add_argument("--seed", type=int, default=None, help="dice seed (default: random)")
    p.add_argument("--state-dir", default=default_dir, help=f"the stack's dir (default {default_dir})")
    p.set_defaults(func=run_apply)

    p = chaos_sub.add_parser("export-fis", help="a scenario's faults as an AWS FIS experiment "
                             "template for a deployed stack (JSON on stdout)")
    p.add_argument("scenario", help="a scenario file, or a name from scenarios/")
    p.add_argument("--stack", required=True, type=stack_name,
                   help="the stack `exodus deploy` made")
    p.add_argument("--aws-endpoint", metavar="URL",
                   help="a local AWS (default: $AWS_ENDPOINT_URL, else AWS itself)")
    p.add_argument("--role-arn", help="the IAM role FIS assumes (default: a placeholder)")
    p.set_defaults(func=run_export_fis)

    p = chaos_sub.add_parser("clear", help="turn every fault off and resume paused components")
    p.add_argument("--state-dir", default=default_dir, help=f"the stack's dir (default {default_dir})")
    p.set_defaults(func=run_clear)


def run_list(args: argparse.Namespace) -> int:
    from exodus2045.chaos.plan import catalogue

    faults = catalogue()
    if args.json:
        print(json.dumps(faults))
        return 0
    for f in faults:
        one = "  (:N for one instance)" if f["one_instance"] else ""
        print(f"{f['name']:<18} {f['summary']}")
        print(f"  {'targets':<16} {', '.join(f['targets'])}{one}")
        for i, param in enumerate(f["params"]):
            print(f"  {'keys' if i == 0 else '':<16} {param}")
        print(f"  {'timing':<16} {f['timing']}; probability rolled per {f['probability_per']}")
    return 0


def _duration(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise ConfigError(f"--for: {exc}") from None


def _probability(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"--probability must be a number between 0 and 1, got {text!r}") from None


def _stack(state: StateDir) -> dict:
    stack = state.read_stack()
    if stack.get("stopped"):
        raise StateDirError(f"{state.root}: the stack there is stopped; start it with "
                            f"`exodus up --state-dir {state.root}`")
    return stack


def run_apply(args: argparse.Namespace) -> int:
    from exodus2045.chaos.plan import step_from_cli
    from exodus2045.chaos.switch import switch_on
    from exodus2045.chaos.timeline import Timeline

    step = step_from_cli(args.fault, args.target, duration_s=_duration(args.duration),
                         probability=_probability(args.probability), params=args.param)
    state = StateDir(Path(args.state_dir))
    stack = _stack(state)
    timeline = Timeline(state.root / "timeline.jsonl", float(stack.get("started_at") or time.time()),
                        source="cli")
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    what = f"{step.fault} on {step.target}"
    held = step.duration_s is not None  # held on for its duration, then always switched off
    activation = None
    ended = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: ended.set())
    try:  # from before the switch: a Ctrl-C right after it must not leave the fault on
        activation = switch_on(step, state, timeline, seed)
        if activation is None:
            print(f"{what}: skipped, the dice said no (probability {step.probability:g})")
            return 0
        if not activation.active:
            print(f"{what}: done")
            return 0
        if step.duration_s is None:
            print(f"{what}: on until `exodus chaos clear --state-dir {state.root}`")
            return 0
        print(f"{what}: on for {format_duration(step.duration_s)} (Ctrl-C ends it early)",
              flush=True)
        ended.wait(step.duration_s)  # the fault's own duration, not a synchronisation
    except KeyboardInterrupt:
        if not (held and activation is not None and activation.active):
            raise
        print(f"{what}: ended early")
    finally:
        if held and activation is not None and activation.active:
            activation.off()
        signal.signal(signal.SIGTERM, previous)
    print(f"{what}: off")
    return 0


def run_clear(args: argparse.Namespace) -> int:
    from exodus2045.chaos.board import FaultBoard
    from exodus2045.chaos.processes import is_component, resume
    from exodus2045.chaos.timeline import Timeline

    state = StateDir(Path(args.state_dir))
    if not state.root.is_dir():
        raise StateDirError(f"{state.root}: no such state dir")
    try:
        stack = state.read_stack()
    except StateDirError:
        stack = {}
    removed = FaultBoard(state).clear()
    timeline = Timeline(state.root / "timeline.jsonl", float(stack.get("started_at") or time.time()),
                        source="cli")
    for entry in removed:
        timeline.write("off", entry.fault, entry.target,
                       {**entry.params, "probability": entry.probability, "cleared": True})
    pids = [int(c["pid"]) for c in stack.get("components", []) if c.get("pid")]
    resumed = resume([p for p in pids if is_component(p)])  # in case a pause was left behind
    print(f"cleared {len(removed)} fault(s); resumed {len(resumed)} component(s)")
    return 0


def run_export_fis(args: argparse.Namespace) -> int:
    """Print the template; every step FIS cannot express is named in one error (exit 2)."""
    import sys

    from exodus2045.app_under_test.settings import AwsConfig
    from exodus2045.chaos.fis import FisStack, fis_template
    from exodus2045.scenarios.aws_stack import find_stack, function_arns
    from exodus2045.scenarios.commands.deploy import aws_errors
    from exodus2045.scenarios.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    config = AwsConfig.from_env(os.environ, endpoint_url=args.aws_endpoint)
    with aws_errors("export-fis", args.stack):
        deployed = find_stack(args.stack, config)
        arns = function_arns(deployed)
    template = fis_template(scenario.chaos, FisStack(deployed.name, arns),
                            scenario=scenario.name, role_arn=args.role_arn)
    print(json.dumps(template, indent=2))
    if not args.role_arn:
        print("export-fis: roleArn is a placeholder: pass --role-arn; the functions need FIS's "
              "Lambda extension layer (README \"On AWS\")", file=sys.stderr)
    return 0
