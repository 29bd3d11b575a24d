"""``exodus adapter check FILE --target URL``: try an adapter file before a run relies on it.

Exit 0 when a wish went through end to end (submit, lookup, tally), 1 when a step failed,
2 when the file is invalid or the target cannot be reached (one line naming why).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("adapter", help="check an adapter file against a target")
    inner = parser.add_subparsers(dest="adapter_command", metavar="SUBCOMMAND")
    inner.required = True
    check = inner.add_parser("check", help="send one wish through the adapter and say what "
                                           "a run will be able to judge")
    check.add_argument("adapter", type=Path, help="the adapter file (TOML)")
    check.add_argument("--target", required=True, help="the team's pipeline URL")
    check.add_argument("--wait", type=float, default=30.0,
                       help="seconds to wait for the wish to be stored (default 30)")
    check.add_argument("--aws-endpoint", metavar="URL",
                       help="a local AWS for the adapter's [evidence.aws] (default: "
                            "$AWS_ENDPOINT_URL, else AWS)")
    check.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    _aws_endpoint(args)
    from exodus2045.scenarios.adapter import load_adapter
    from exodus2045.scenarios.adapter.check import check_adapter

    adapter = load_adapter(args.adapter)
    adapter.resolved_headers()  # credentials missing from the environment: exit 2, now
    adapter.resolved_auth()
    report = check_adapter(adapter, args.target, wait_s=args.wait)
    print(report.render())
    return 0 if report.ok else 1


def _aws_endpoint(args: argparse.Namespace) -> None:
    """``--aws-endpoint`` for the adapter's ``[evidence.aws]`` (as ``AWS_ENDPOINT_URL``, which
    the check's AWS clients read); refused when the file names no AWS to read there."""
    if not args.aws_endpoint:
        return
    import os

    from exodus2045.app_under_test.errors import ConfigError
    from exodus2045.app_under_test.settings import ENV_AWS_ENDPOINT, AwsConfig
    from exodus2045.scenarios.adapter import load_adapter

    adapter = load_adapter(args.adapter)  # its problems first, as the check would say them
    if not (adapter.evidence and adapter.evidence.aws):
        raise ConfigError(f"--aws-endpoint: {args.adapter} has no [evidence.aws] to read there")
    AwsConfig(endpoint_url=args.aws_endpoint)  # a malformed URL: one line, exit 2
    os.environ[ENV_AWS_ENDPOINT] = args.aws_endpoint
