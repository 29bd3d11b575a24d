"""The Lambda entry points with chaos's hooks: the pipeline's handlers, ports wrapped.

``exodus deploy`` names these handlers (the template's ``HandlerModule``), as ``exodus up``
runs ``python -m exodus2045.chaos.entry`` locally: the handler code is the pipeline's,
unchanged; its queue and store are :class:`~exodus2045.chaos.wrappers.ChaosQueue` and
:class:`~exodus2045.chaos.wrappers.ChaosStore`, which consult the fault board -- on AWS the
SSM parameter the template names in ``EXODUS_FAULT_PARAMETER``, read at most once a second
(:mod:`exodus2045.chaos.ssm_board`). ``throttle``, ``error`` and ``latency`` on
``queue.send`` and ``store.put`` act here; ``queue.receive`` and ``queue.delete`` are the
event source mapping's on AWS, so faults on them never fire in a function.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_handlers: dict[str, Handler] = {}


def build_handler(role: str, env: dict[str, str] | None = None) -> Handler:
    from exodus2045.app_under_test import parser, pod_worker
    from exodus2045.app_under_test.backends.aws import open_aws
    from exodus2045.app_under_test.backends.aws.clients import make_clients, make_session
    from exodus2045.app_under_test.flaws import parse_flaws
    from exodus2045.app_under_test.settings import (
        ENV_FAULT_PARAMETER,
        ENV_FLAWS,
        AwsConfig,
        AwsResources,
    )
    from exodus2045.chaos.injector import Injector
    from exodus2045.chaos.source import StaticFaultSource
    from exodus2045.chaos.ssm_board import SsmFaultSource
    from exodus2045.chaos.wrappers import ChaosQueue, ChaosStore

    env = dict(os.environ) if env is None else env
    flaws = parse_flaws(env.get(ENV_FLAWS))
    config = AwsConfig.from_env(env)
    backend = open_aws(make_clients(config), AwsResources.from_env(env), flaws)
    parameter = env.get(ENV_FAULT_PARAMETER)
    source = StaticFaultSource() if not parameter else SsmFaultSource(
        make_session(config).client("ssm", endpoint_url=config.endpoint_url), parameter)
    injector = Injector(source, f"{role}:0")
    if role == "parser":
        return parser.make_handler(ChaosQueue(backend.parsed, injector),
                                   ChaosQueue(backend.wishes, injector), flaws)
    if role == "pod-worker":
        return pod_worker.make_handler(ChaosStore(backend.store, injector),
                                       ChaosQueue(backend.parsed, injector), flaws)
    raise ValueError(f"unknown role {role!r}")


def _handler(role: str) -> Handler:
    if role not in _handlers:
        _handlers[role] = build_handler(role)
    return _handlers[role]


def parser_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _handler("parser")(event, context)


def pod_worker_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    return _handler("pod-worker")(event, context)
