"""``exodus up``: run the reference pipeline in the foreground until Ctrl-C.

The stack runs chaos's components (:func:`exodus2045.chaos.stack.chaos_supervisor`), so
``exodus chaos apply`` and the presenter's chaos routes can reach it.
"""

from __future__ import annotations

import argparse
import os

from exodus2045.app_under_test.flaws import parse_flaws
from exodus2045.app_under_test.settings import StackConfig, trust_proxy
from rich.console import Console


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by every command that starts a stack; defaults come from EXODUS_*."""
    d = StackConfig.from_env(os.environ)
    parser.add_argument("--host", default=d.host, help=f"bind address (default {d.host})")
    parser.add_argument("--port", type=int, default=d.port, help=f"port, 0 = any (default {d.port})")
    parser.add_argument("--state-dir", default=str(d.state_dir),
                        help=f"where queues and store live (default {d.state_dir})")
    parser.add_argument("--frontends", type=int, default=d.frontends)
    parser.add_argument("--parsers", type=int, default=d.parsers)
    parser.add_argument("--pod-workers", type=int, default=d.pod_workers)
    parser.add_argument("--flaws", default=",".join(sorted(d.flaws)),
                        help="seeded flaws to switch on, comma-separated (e.g. demo-2019)")
    parser.add_argument("--trust-proxy", default=d.trust_proxy, metavar="ADDR",
                        help="believe X-Forwarded-For only from these proxy addresses or "
                             "networks, comma-separated (default: from nobody)")


def stack_config(args: argparse.Namespace, **overrides) -> StackConfig:
    from pathlib import Path

    return StackConfig.from_env(
        os.environ,
        host=args.host, port=args.port, state_dir=Path(args.state_dir),
        frontends=args.frontends, parsers=args.parsers, pod_workers=args.pod_workers,
        flaws=parse_flaws(args.flaws), trust_proxy=trust_proxy(args.trust_proxy), **overrides,
    )


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("up", help="run the reference pipeline (foreground, Ctrl-C stops)")
    add_stack_arguments(parser)
    parser.add_argument("--public", action="store_true",
                        help="stage mode, as `exodus stage`: join link + QR code, presenter "
                             "token, audience rate limit (still binds only where --host says)")
    parser.add_argument("--allow-flaws", action="store_true",
                        help="with --public: run seeded flaws in front of an audience anyway")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if getattr(args, "public", False):
        from exodus2045.scenarios.commands.stage import run as run_stage

        return run_stage(args)
    from exodus2045.chaos.stack import chaos_supervisor

    config = stack_config(args)
    supervisor = chaos_supervisor(config)
    url = supervisor.start()
    console = Console()
    try:
        supervisor.wait_ready()
    except BaseException:
        supervisor.stop()
        raise
    console.print(f"[bold]Exodus pipeline up[/bold] at {url}")
    console.print(f"  join page  {url}/")
    console.print(f"  wall       {url}/wall")
    console.print(f"  tally      {url}/api/tally")
    console.print(f"  metrics    {url}/metrics")
    console.print(f"  state dir  {config.state_dir}   (exodus status --state-dir {config.state_dir})")
    if config.flaws:
        console.print(f"  [red]seeded flaws on: {', '.join(sorted(config.flaws))}[/red]")
    console.print("Ctrl-C stops everything.")
    supervisor.run_forever()
    console.print("stopped.")
    return 0
