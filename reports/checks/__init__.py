"""The registry of audit checks: one module per check, listed here in report order.

Each module defines ``ID`` and ``check(run: RunData)`` returning a
:class:`exodus2045.reports.verdict.CheckResult`, or a list of them for per-fault checks (``recovery``).
The list is explicit rather than discovered so the order of a report never depends on file
names, and a half-written module cannot slip into a verdict.
"""

from __future__ import annotations

import importlib
from types import ModuleType

CHECK_MODULES = (
    "exactly_once",
    "no_phantoms",
    "tally",
    "content",
    "bad_input",
    "no_false_rejects",
    "no_executable_markup",
    "drained",
    "dlq_explained",
    "slo",
    "recovery",
)


def registered() -> list[ModuleType]:
    """The check modules, imported on demand (so importing the package stays cheap)."""
    return [importlib.import_module(f"{__name__}.{name}") for name in CHECK_MODULES]


def registered_ids() -> frozenset[str]:
    """The ids the registered checks report under (a per-fault check's prefix, e.g. recovery)."""
    return frozenset(module.ID for module in registered())
