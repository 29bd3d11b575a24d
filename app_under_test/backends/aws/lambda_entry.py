"""The Lambda entry points: the same parser and pod-worker handlers, on the aws backend.

The template names ``...lambda_entry.parser_handler`` and ``...lambda_entry.pod_worker_handler``.
Each container builds its clients and backend once, on its first invocation (never at
import: a cold start that cannot reach AWS fails that invocation, visibly), from the
function's environment: the resources (``EXODUS_*_QUEUE_URL``, ``EXODUS_TABLE``), the flaws,
and AWS's own settings (region; ``AWS_ENDPOINT_URL`` on a local AWS).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

_handlers: dict[str, Handler] = {}


def build_handler(role: str, env: dict[str, str] | None = None) -> Handler:
    """The handler for ``role`` ("parser" | "pod-worker") wired to the aws backend."""
    from exodus2045.app_under_test import parser, pod_worker
    from exodus2045.app_under_test.backends.aws import open_aws
    from exodus2045.app_under_test.backends.aws.clients import make_clients
    from exodus2045.app_under_test.flaws import parse_flaws
    from exodus2045.app_under_test.settings import ENV_FLAWS, AwsConfig, AwsResources
    from exodus2045.app_under_test.tracing_sdk import configure as configure_tracing

    env = dict(os.environ) if env is None else env
    configure_tracing(role, None, env)  # OTLP when an endpoint is set and the SDK is packaged
    flaws = parse_flaws(env.get(ENV_FLAWS))
    backend = open_aws(make_clients(AwsConfig.from_env(env)), AwsResources.from_env(env), flaws)
    if role == "parser":
        return parser.make_handler(backend.parsed, backend.wishes, flaws)
    if role == "pod-worker":
        return pod_worker.make_handler(backend.store, backend.parsed, flaws)
    raise ValueError(f"unknown role {role!r}")


def _handler(role: str) -> Handler:
    if role not in _handlers:
        _handlers[role] = build_handler(role)
    return _handlers[role]


def parser_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _handler("parser")(event, context)


def pod_worker_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _handler("pod-worker")(event, context)
