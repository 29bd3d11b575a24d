"""Fault plans are data: validate a step before anything runs, build one from CLI flags.

:func:`validate_step` is what ``scenarios/scenario.py`` calls for every ``[[chaos]]`` table
(it prefixes the file and table to our message); :func:`step_from_cli` is the same check for
``exodus chaos apply``, after turning ``--param k=v`` strings into typed values with the
fault's own schema. Both raise ConfigError with one precise line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.chaos import faults
from exodus2045.chaos.faults.base import REQUIRED, Fault
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.targets import KINDS, OPERATIONS_BY_KIND


def validate_step(step: ChaosStep) -> None:
    """Raise ConfigError for the first thing wrong with ``step``: fault, target, keys, timing."""
    faults.get(step.fault).validate(step)


def resolved_params(step: ChaosStep) -> dict[str, Any]:
    """The step's fault-specific keys with defaults filled in (the step must be valid)."""
    return faults.get(step.fault).resolve_params(step.params)


def step_from_cli(fault: str, target: str, *, duration_s: float | None = None,
                  probability: float = 1.0, params: Sequence[str] = ()) -> ChaosStep:
    """A validated step from ``exodus chaos apply`` flags (``params`` are ``k=v`` strings)."""
    spec = faults.get(fault)
    typed: dict[str, Any] = {}
    by_name = {p.name: p for p in spec.params}
    for item in params:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--param {item!r} is not of the form key=value")
        if key not in by_name:
            typed[key] = value  # resolve_params names the unknown key precisely
        else:
            typed[key] = by_name[key].from_text(fault, value.strip())
    step = ChaosStep(at_s=0.0, fault=fault, target=target, duration_s=duration_s,
                     probability=probability, params=typed)
    validate_step(step)
    return step


def describe(fault: Fault) -> dict[str, Any]:
    """What ``exodus chaos list`` shows for one fault."""
    targets = []
    for kind in (k for k in KINDS if k in fault.kinds):
        if fault.operations:
            ops = [o for o in OPERATIONS_BY_KIND[kind] if o in fault.operations]
            targets += [f"{kind}/{op}" for op in ops]
        else:
            targets.append(kind)
    if fault.duration == REQUIRED:
        timing = "duration required"
    elif fault.is_instant(None) and fault.duration != "optional":
        timing = "instant (no duration)"
    elif fault.is_instant(None):
        timing = "instant, or held for a duration"
    else:
        timing = "until off (duration optional)"
    return {"name": fault.name, "summary": fault.summary, "targets": targets,
            "one_instance": fault.allow_index, "params": [p.describe() for p in fault.params],
            "timing": timing, "probability_per": fault.probability_per}


def catalogue() -> list[dict[str, Any]]:
    return [describe(f) for f in faults.registry().values()]
