"""The Lambda entry points: the same parser and pod-worker handlers, on the aws backend.

The template names ``...lambda_entry.parser_handler`` and ``...lambda_entry.pod_worker_handler``.
Each container builds its clients and backend once, on its first invocation (never at
import: a cold start that cannot reach AWS fails that invocation, visibly), from the
function's environment: the resources (``EXODUS_*_QUEUE_URL``, ``EXODUS_TABLE``), the flaws,
AWS's own settings (region; ``AWS_ENDPOINT_URL`` on a local AWS) and, when an OTLP endpoint
is set (``OTEL_EXPORTER_OTLP_ENDPOINT``, the template's ``OtlpEndpoint``), span export.

A module that wants more than the plain pipeline (chaos's entry, which puts faults in
front of the ports) builds its own :class:`Entry` with a ``wrap`` hook: the pipeline knows
nothing of chaos, and the cache and the wiring live here once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
#: ``wrap(role, backend, env) -> backend``: the ports (``wishes``, ``parsed``, ``store``) the
#: role's handler is bound to, given the backend the function's environment names.
PortsWrapper = Callable[[str, Any, dict[str, str]], Any]


def build_handler(role: str, env: dict[str, str] | None = None,
                  wrap: PortsWrapper | None = None) -> Handler:
    """The handler for ``role`` ("parser" | "pod-worker") wired to the aws backend."""
    from exodus2045.app_under_test import parser, pod_worker
    from exodus2045.app_under_test.backends.aws import open_aws
    from exodus2045.app_under_test.backends.aws.clients import make_clients
    from exodus2045.app_under_test.flaws import parse_flaws
    from exodus2045.app_under_test.settings import ENV_FLAWS, AwsConfig, AwsResources
    from exodus2045.app_under_test.tracing_sdk import configure as configure_tracing

    if role not in ("parser", "pod-worker"):
        raise ValueError(f"unknown role {role!r}")
    env = dict(os.environ) if env is None else env
    configure_tracing(role, None, env)  # OTLP when an endpoint is set and the SDK is packaged
    flaws = parse_flaws(env.get(ENV_FLAWS))
    backend = open_aws(make_clients(AwsConfig.from_env(env)), AwsResources.from_env(env), flaws)
    if wrap is not None:
        backend = wrap(role, backend, env)
    if role == "parser":
        return parser.make_handler(backend.parsed, backend.wishes, flaws)
    return pod_worker.make_handler(backend.store, backend.parsed, flaws)


class Entry:
    """The two handlers of one module, each built once per container on first use.

    Spans are flushed after every invocation: Lambda may freeze the container as soon as
    the handler returns, and a batch processor's spans would wait for the next thaw.
    """

    def __init__(self, wrap: PortsWrapper | None = None) -> None:
        self.wrap = wrap
        self._handlers: dict[str, Handler] = {}

    def handler(self, role: str) -> Handler:
        if role not in self._handlers:
            self._handlers[role] = build_handler(role, wrap=self.wrap)
        return self._handlers[role]

    def _invoke(self, role: str, event: dict[str, Any], context: Any) -> dict[str, Any]:
        from exodus2045.app_under_test.tracing_sdk import flush_spans

        try:
            return self.handler(role)(event, context)
        finally:
            flush_spans()

    def parser(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return self._invoke("parser", event, context)

    def pod_worker(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return self._invoke("pod-worker", event, context)


_entry = Entry()
parser_handler = _entry.parser
pod_worker_handler = _entry.pod_worker
