"""A real stack (frontend + pollers under the supervisor) on 127.0.0.1:0 for a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from exodus2045.app_under_test.settings import StackConfig
from exodus2045.app_under_test.supervisor import Supervisor
from exodus2045.chaos.stack import chaos_supervisor


@contextmanager
def running_stack(state_dir: Path, *, chaos: bool = False, **config) -> Iterator[Supervisor]:
    """The plain pipeline, or with ``chaos`` the stack ``exodus up`` runs (chaos can reach it)."""
    values = {"state_dir": state_dir, "port": 0, "frontends": 1, "parsers": 1, "pod_workers": 1}
    values.update(config)
    stack_config = StackConfig(**values)
    supervisor = chaos_supervisor(stack_config) if chaos else Supervisor(stack_config)
    supervisor.start()
    try:
        supervisor.wait_ready()
        yield supervisor
    finally:
        supervisor.stop()
