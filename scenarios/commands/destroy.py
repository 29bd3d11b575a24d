"""``exodus destroy --stack NAME [--aws-endpoint URL]``: delete the stack and its code bucket.

Waits until CloudFormation says the stack is gone (its log groups, declared in the
template, go with it) and the bucket ``exodus deploy`` made for the zip is emptied and
deleted, so nothing of the stack is left behind.
"""

from __future__ import annotations

import argparse

from exodus2045.scenarios.commands.deploy import (
    add_aws_arguments,
    aws_config,
    aws_errors,
    confirm,
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("destroy", help="delete a stack `exodus deploy` made, leaving nothing")
    add_aws_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from exodus2045.app_under_test.backends.aws.stack import DeployOptions, StackClients, destroy

    config = aws_config(args)
    confirm(config, args, f"delete stack {args.stack} and everything in it")
    options = DeployOptions(stack=args.stack, timeout_s=args.timeout,
                            poll_s=0.5 if config.endpoint_url else 5.0)
    with aws_errors("destroy", args.stack):
        destroy(StackClients.build(config), args.stack, options)
    print(f"stack {args.stack} destroyed")
    return 0
