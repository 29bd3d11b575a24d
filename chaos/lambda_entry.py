"""The Lambda entry points with chaos's hooks: the pipeline's handlers, ports wrapped.

``exodus deploy`` names these handlers (the template's ``HandlerModule``), as ``exodus up``
runs ``python -m exodus2045.chaos.entry`` locally: the handler code and its per-container
cache are the pipeline's (:class:`~exodus2045.app_under_test.backends.aws.lambda_entry.Entry`),
unchanged; its queue and store are :class:`~exodus2045.chaos.wrappers.ChaosQueue` and
:class:`~exodus2045.chaos.wrappers.ChaosStore`, which consult the fault board -- on AWS the
SSM parameter the template names in ``EXODUS_FAULT_PARAMETER``, read at most once a second
(:mod:`exodus2045.chaos.ssm_board`). ``throttle``, ``error`` and ``latency`` on
``queue.send`` and ``store.put`` act here; ``queue.receive`` and ``queue.delete`` are the
event source mapping's on AWS, so faults on them never fire in a function. Spans a fault
touched carry it (:mod:`exodus2045.chaos.span_faults`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from exodus2045.app_under_test.backends.aws.lambda_entry import Entry


def chaos_ports(role: str, backend: Any, env: dict[str, str]) -> Any:
    """The ``wrap`` hook: the role's ports behind this function's injector."""
    from exodus2045.app_under_test.backends.aws.clients import make_session
    from exodus2045.app_under_test.settings import ENV_FAULT_PARAMETER, AwsConfig
    from exodus2045.chaos.injector import Injector
    from exodus2045.chaos.source import StaticFaultSource
    from exodus2045.chaos.span_faults import mark_faulted_spans
    from exodus2045.chaos.ssm_board import SsmFaultSource
    from exodus2045.chaos.wrappers import ChaosQueue, ChaosStore

    parameter = env.get(ENV_FAULT_PARAMETER)
    if parameter:
        config = AwsConfig.from_env(env)
        source: Any = SsmFaultSource(
            make_session(config).client("ssm", endpoint_url=config.endpoint_url), parameter)
    else:
        source = StaticFaultSource()
    injector = Injector(source, f"{role}:0")
    mark_faulted_spans(injector)
    return dataclasses.replace(backend, wishes=ChaosQueue(backend.wishes, injector),
                               parsed=ChaosQueue(backend.parsed, injector),
                               store=ChaosStore(backend.store, injector))


_entry = Entry(wrap=chaos_ports)
parser_handler = _entry.parser
pod_worker_handler = _entry.pod_worker
