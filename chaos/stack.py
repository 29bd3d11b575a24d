"""A stack chaos can reach: the supervisor running chaos's components, holding what it holds.

The pipeline's supervisor runs whatever command it is given and asks a ``held`` predicate
whether to keep a component down; it knows nothing of chaos. Whoever builds a stack that
faults may hit (``exodus up``, ``exodus stage``, the runner's own stack, the recovery
benchmark) builds it here, so every such stack runs :mod:`exodus2045.chaos.entry` and honours
timed ``kill`` holds.
"""

from __future__ import annotations

import sys

from exodus2045.app_under_test.settings import StackConfig
from exodus2045.app_under_test.supervisor import Supervisor
from exodus2045.chaos.entry import MODULE
from exodus2045.chaos.hold import held_down_predicate

ENTRY_MODULE = MODULE


def component_command(kind: str) -> list[str]:
    """``kind``'s process with chaos's hooks: the supervisor's ``command`` for such a stack."""
    return [sys.executable, "-m", ENTRY_MODULE, kind]


def chaos_supervisor(config: StackConfig) -> Supervisor:
    """A supervisor for ``config`` whose components chaos can reach and hold down."""
    return Supervisor(config, held=held_down_predicate(config.state_dir), command=component_command)
