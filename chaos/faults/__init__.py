"""The fault registry: every module here that defines ``FAULT`` is a fault.

Adding a fault is adding one file with a :class:`exodus2045.chaos.faults.base.Fault` subclass and a
``FAULT = MyFault()`` line; plans, the CLI, ``exodus chaos list`` and the components find it
here by name.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.chaos.faults.base import Fault, PortFault


@cache
def registry() -> dict[str, Fault]:
    """Name -> fault, sorted by name."""
    found: dict[str, Fault] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        fault = getattr(module, "FAULT", None)
        if isinstance(fault, Fault):
            found[fault.name] = fault
    return dict(sorted(found.items()))


def known() -> list[str]:
    return list(registry())


def get(name: str) -> Fault:
    """The fault called ``name``, or ConfigError listing the known ones."""
    fault = registry().get(name)
    if fault is None:
        raise ConfigError(f"unknown fault {name!r}; known faults: {', '.join(known())}")
    return fault


def port_faults() -> dict[str, PortFault]:
    return {n: f for n, f in registry().items() if isinstance(f, PortFault)}
