"""``exodus deploy --stack NAME [--aws-endpoint URL]``: the pipeline as one CloudFormation stack.

Packages the handlers (app_under_test/backends/aws/package.py), creates or updates the
stack from app_under_test/backends/aws/template.yaml, prints each stack event while it
waits, then the outputs. Region, profile and credentials come from AWS's usual settings;
``--aws-endpoint`` (or ``AWS_ENDPOINT_URL``) points at a local AWS. Against real AWS it
creates billable resources, so it asks first unless ``--yes``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.flaws import parse_flaws
from exodus2045.app_under_test.settings import AwsConfig

STACK_NAME = re.compile(r"[A-Za-z][-A-Za-z0-9]{0,39}")


def stack_name(raw: str) -> str:
    """CloudFormation's rule, shortened so derived names (queues, functions) fit AWS limits."""
    if not STACK_NAME.fullmatch(raw):
        raise argparse.ArgumentTypeError(
            f"{raw!r}: a stack name is a letter, then letters, digits or '-', at most 40")
    return raw


def add_aws_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every AWS-facing command shares."""
    parser.add_argument("--stack", required=True, type=stack_name, help="CloudFormation stack name")
    parser.add_argument("--aws-endpoint", default=None, metavar="URL",
                        help="a local AWS (default: $AWS_ENDPOINT_URL, else AWS itself)")
    parser.add_argument("--yes", action="store_true",
                        help="do not ask before touching a real AWS account")
    parser.add_argument("--timeout", type=float, default=900.0, metavar="SECONDS",
                        help="give up waiting for the stack after this long")


def aws_config(args: argparse.Namespace) -> AwsConfig:
    return AwsConfig.from_env(os.environ, endpoint_url=args.aws_endpoint)


def confirm(config: AwsConfig, args: argparse.Namespace, what: str) -> None:
    """Ask before acting on a real account; a local endpoint never asks."""
    if config.endpoint_url or args.yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"{what} on a real AWS account: add --yes to confirm (no terminal "
                          "to ask on)")
    answer = input(f"{what} on AWS (region {config.region or 'from your AWS settings'}); "
                   "continue? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise ConfigError("not confirmed; nothing done")


@contextlib.contextmanager
def aws_errors(verb: str, stack: str) -> Iterator[None]:
    """AWS's refusals (a bad parameter, no credentials, no permission) become one line and
    exit 2, like every other error Exodus expects; a bug keeps its traceback."""
    from botocore.exceptions import BotoCoreError, ClientError

    from exodus2045.app_under_test.backends.aws.stack import DeployError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"{verb} {stack}: {exc}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("deploy", help="deploy the pipeline to AWS as one CloudFormation stack")
    add_aws_arguments(parser)
    parser.add_argument("--runtime", default="python3.13",
                        choices=["python3.12", "python3.13", "python3.14"])
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--batch-window", type=int, default=0, metavar="SECONDS")
    parser.add_argument("--max-receive-count", type=int, default=5)
    parser.add_argument("--flaws", default="", help="seeded flaws for the functions")
    parser.add_argument("--otlp-endpoint", metavar="URL",
                        help="the functions send their spans over OTLP/HTTP to this collector "
                             "(the zip then carries the OpenTelemetry SDK and exporter)")
    parser.add_argument("--trace-sample", type=float, default=1.0, metavar="RATIO",
                        help="with --otlp-endpoint: the share of wishes whose spans are sent "
                             "(default 1)")
    parser.add_argument("--json", action="store_true", help="print the outputs as one JSON line")
    parser.set_defaults(func=run)


def _tracing_parameters(args: argparse.Namespace) -> dict[str, str]:
    from urllib.parse import urlsplit

    endpoint = getattr(args, "otlp_endpoint", None)
    if not endpoint:
        return {}
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--otlp-endpoint {endpoint!r}: expected an http(s) URL such as "
                          "https://collector.example:4318")
    if not 0.0 <= args.trace_sample <= 1.0:
        raise ConfigError(f"--trace-sample {args.trace_sample}: expected a share between 0 and 1")
    return {"OtlpEndpoint": endpoint, "TraceSample": f"{args.trace_sample:g}"}


def run(args: argparse.Namespace) -> int:
    from exodus2045.app_under_test.backends.aws.stack import DeployOptions, StackClients, deploy

    config = aws_config(args)
    tracing = _tracing_parameters(args)
    options = DeployOptions(
        stack=args.stack, runtime=args.runtime, batch_size=args.batch_size,
        batch_window_s=args.batch_window, max_receive_count=args.max_receive_count,
        flaws=parse_flaws(args.flaws), timeout_s=args.timeout,
        poll_s=0.5 if config.endpoint_url else 5.0,
        # the functions run chaos's entry (the same handlers, ports wrapped), so a run's
        # throttle/error/latency faults reach them through the stack's fault board
        packages=("app_under_test", "chaos"), handler_module="exodus2045.chaos.lambda_entry",
        parameters=tracing, tracing=bool(tracing),
    )
    confirm(config, args, f"create or update stack {args.stack} (billable resources)")
    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    with aws_errors("deploy", args.stack):
        values = deploy(StackClients.build(config), options, say=say)
    if args.json:
        print(json.dumps(values, sort_keys=True))
    else:
        print(f"stack {args.stack} ready:")
        for key in sorted(values):
            print(f"  {key} = {values[key]}")
    return 0
