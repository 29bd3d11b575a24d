"""Switch one occurrence of a fault on, and later off, with its timeline lines.

Shared by the schedule (a scenario's ``[[chaos]]`` steps) and ``exodus chaos apply`` (one
step from the command line), so a fault behaves and is recorded the same whoever drives it:
roll the dice (for faults rolled per occurrence), apply, write ``on``; revert, write ``off``.
An instant fault (a single kill, poison) gets its ``off`` right after its ``on``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos import faults
from exodus2045.chaos.faults.base import Fault, FaultContext
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.targets import parse_target
from exodus2045.chaos.timeline import Timeline


def line_params(step: ChaosStep, params: dict[str, Any]) -> dict[str, Any]:
    """What the timeline records about a step: its keys, plus probability and duration."""
    out = dict(params)
    out["probability"] = step.probability
    if step.duration_s is not None:
        out["duration_s"] = step.duration_s
    return out


@dataclass
class Activation:
    """A fault that is on; :meth:`off` undoes it once (later calls do nothing).

    One class for every place a fault can be on (a local stack here, a deployed stack in
    :mod:`exodus2045.chaos.aws`): what undoing means is the ``undo`` callable, so the lock,
    the done flag and the ``off`` line are written once. ``undo`` None: nothing to undo (an
    instant fault).
    """

    fault: Fault
    step: ChaosStep
    timeline: Timeline
    params: dict[str, Any]
    undo: Callable[[], dict[str, Any]] | None
    until: float | None = None
    _done: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def off(self) -> dict[str, Any] | None:
        with self._lock:
            if self._done:
                return None
            self._done = True
        evidence: dict[str, Any] = {}
        try:
            if self.undo is not None:
                evidence = self.undo()
        finally:  # the off line is written even if the undo half-failed: it is over
            line = self.timeline.write("off", self.fault.name, self.step.target,
                                       {**self.params, **evidence})
        return line

    @property
    def active(self) -> bool:
        return not self._done


def switch_on(step: ChaosStep, state: StateDir, timeline: Timeline, seed: int,
              dice: random.Random | None = None) -> Activation | None:
    """Turn ``step`` on now. None if the dice skipped it (a ``note`` says so).

    Errors from applying it (no such process, a stopped stack) propagate; the caller decides
    whether that is fatal (the CLI) or a note on the timeline (the schedule).
    """
    fault = faults.get(step.fault)
    params = fault.resolve_params(step.params)
    recorded = line_params(step, params)
    if not fault.per_call and step.probability < 1.0:
        roll = (dice or random.Random(seed)).random()
        if roll >= step.probability:
            timeline.write("note", fault.name, step.target,
                           {**recorded, "skipped": f"dice {roll:.3f} >= {step.probability:g}"})
            return None
    until = time.time() + step.duration_s if step.duration_s is not None else None
    ctx = FaultContext(state=state, target=parse_target(step.target), params=params,
                       probability=step.probability, duration_s=step.duration_s, seed=seed,
                       source=timeline.source, until=until)
    evidence = fault.apply(ctx)
    timeline.write("on", fault.name, step.target, {**recorded, **evidence})
    activation = Activation(fault, step, timeline, recorded,
                            lambda: fault.revert(ctx), until=until)
    if fault.is_instant(step.duration_s):
        activation.off()
    return activation
