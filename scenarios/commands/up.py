"""``exodus up``: run the reference pipeline in the foreground until Ctrl-C.

The stack runs chaos's components (:func:`exodus2045.chaos.stack.chaos_supervisor`), so
``exodus chaos apply`` and the presenter's chaos routes can reach it.
"""

from __future__ import annotations

import argparse
import contextlib
import os

from exodus2045.app_under_test.flaws import parse_flaws
from exodus2045.app_under_test.settings import StackConfig, trust_proxy


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
    parser.add_argument("--backend", choices=("local", "aws"), default="local",
                        help="local: the embedded SQLite stack; aws: a frontend for the stack "
                             "`exodus deploy` made (--stack)")
    parser.add_argument("--stack", help="with --backend aws: the deployed stack to serve")
    parser.add_argument("--aws-endpoint", metavar="URL",
                        help="a local AWS (default: $AWS_ENDPOINT_URL, else AWS itself)")
    parser.add_argument("--public", action="store_true",
                        help="stage mode, as `exodus stage`: join link + QR code, presenter "
                             "token, audience rate limit (still binds only where --host says)")
    parser.add_argument("--allow-flaws", action="store_true",
                        help="with --public: run seeded flaws in front of an audience anyway")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.backend == "aws" or args.stack or args.aws_endpoint:
        return run_aws(args)
    if getattr(args, "public", False):
        from exodus2045.scenarios.commands.stage import run as run_stage

        return run_stage(args)
    from rich.console import Console

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


def run_aws(args: argparse.Namespace) -> int:
    """A frontend on this machine for a deployed stack; its parser and pod worker are the
    stack's Lambdas, so there is nothing else to supervise here."""
    from rich.console import Console

    from exodus2045.app_under_test.errors import ConfigError
    from exodus2045.app_under_test.settings import AwsConfig
    from exodus2045.scenarios.aws_stack import AwsFrontend, find_stack
    from exodus2045.scenarios.commands.deploy import stack_name

    if args.backend != "aws" or not args.stack:
        raise ConfigError("a deployed stack needs both --backend aws and --stack NAME")
    if getattr(args, "public", False):
        raise ConfigError("--public (stage mode) runs the embedded stack; it does not take "
                          "--backend aws yet")
    try:
        name = stack_name(args.stack)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(str(exc)) from None
    deployed = find_stack(name, AwsConfig.from_env(os.environ, endpoint_url=args.aws_endpoint))
    console = Console()
    with AwsFrontend(deployed, host=args.host, port=args.port,
                     flaws=parse_flaws(args.flaws)) as frontend:
        console.print(f"[bold]Exodus frontend up[/bold] at {frontend.url} for stack {name}")
        console.print(f"  table      {deployed.resources.table}")
        console.print(f"  queue      {deployed.resources.wishes_queue_url}")
        console.print(f"  run        exodus run smoke --stack {name} --target {frontend.url}")
        console.print("Ctrl-C stops it (the stack stays; exodus destroy removes it).")
        with contextlib.suppress(KeyboardInterrupt):
            frontend.wait()
    console.print("stopped.")
    return 0
