"""A scenario's faults on a timeline: on at ``at``, off after ``duration``, again ``every``.

Runs in one thread of the runner process. Each step fires at ``t0 + at``; a step with
``duration`` is switched off that much later; a step with ``every`` fires again every
``every`` seconds *while arrivals last* -- once the runner calls :meth:`wait_until_quiet`
(the swarm has ended) no further repeat starts, so a crash loop cannot outlive its load.
Steps whose first ``at`` is still ahead do fire: a fault planned for the drain is part of
the plan. Dice (for faults rolled per occurrence, and the seeds given to per-call faults)
come from one ``Random(seed)``, so ``--seed`` repeats a run's chaos.

A fault that cannot be applied (its component is restarting, the run has no state dir)
becomes a ``note`` line saying why; the schedule goes on. On a deployed AWS stack the
runner passes ``switch`` (:meth:`exodus2045.chaos.aws.AwsChaos.switch_on`) instead of a
state dir: same steps, same timeline, AWS's forms of the faults.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.switch import Activation, line_params, switch_on
from exodus2045.chaos.timeline import Timeline

log = logging.getLogger("exodus.chaos")

ON, OFF = "on", "off"
#: ``switch(step, timeline, seed, dice) -> activation or None``: turns one occurrence on
Switch = Callable[[ChaosStep, Timeline, int, random.Random], Any]


@dataclass(order=True)
class _Due:
    at: float  # epoch seconds
    seq: int
    action: str  # ON | OFF
    step_index: int
    occurrence: int


class ChaosSchedule:
    """``start()`` before the swarm, ``wait_until_quiet()`` after it, ``stop()`` always."""

    def __init__(self, steps: Sequence[ChaosStep], state: StateDir | None, timeline_path: Path,
                 t0: float, seed: int = 2045, source: str = "scenario",
                 switch: Switch | None = None) -> None:
        self.steps = list(steps)
        self.state = state
        self.switch = switch
        self.timeline = Timeline(timeline_path, t0, source)
        self.t0 = t0
        self.dice = random.Random(seed)
        self._heap: list[_Due] = []
        self._seq = 0
        self._active: dict[tuple[int, int], Activation] = {}
        self._firing = 0  # popped from the heap, not yet on (or off): still "not quiet"
        self._cond = threading.Condition()
        self._stopping = False
        self._winding_down = False
        self._thread: threading.Thread | None = None

    # -- public API --------------------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            for i, step in enumerate(self.steps):
                self._push(self.t0 + step.at_s, ON, i, 0)
        self._thread = threading.Thread(target=self._run, name="chaos-schedule", daemon=True)
        self._thread.start()

    def wait_until_quiet(self, timeout_s: float) -> bool:
        """Stop repeats, then block until nothing is pending or on; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            self._winding_down = True
            self._heap = [d for d in self._heap if not (d.action == ON and d.occurrence > 0)]
            heapq.heapify(self._heap)
            self._cond.notify_all()
            while not self._quiet():
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return self._quiet()
                self._cond.wait(min(left, 0.5))
            return True

    def stop(self) -> None:
        """End the schedule now: every fault it turned on is turned off (and written so)."""
        with self._cond:
            self._stopping = True
            self._heap.clear()
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._cond:
            active, self._active = list(self._active.values()), {}
        for activation in active:
            self._off(activation)

    @property
    def pending(self) -> int:
        """Occurrences still to come plus faults on right now."""
        with self._cond:
            return len(self._heap) + len(self._active) + self._firing

    def _quiet(self) -> bool:
        return not (self._heap or self._active or self._firing)

    # -- the thread ----------------------------------------------------------------------
    def _push(self, at: float, action: str, index: int, occurrence: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Due(at, self._seq, action, index, occurrence))

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopping:
                    if not self._heap:
                        self._cond.notify_all()  # quiet: wake wait_until_quiet
                        self._cond.wait()
                        continue
                    wait = self._heap[0].at - time.time()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    return
                due = heapq.heappop(self._heap)
                self._firing += 1
            try:
                self._fire(due)
            except Exception:  # the schedule must outlive any one fault
                log.exception("chaos: step %d failed", due.step_index)
            finally:
                with self._cond:
                    self._firing -= 1
                    self._cond.notify_all()

    def _fire(self, due: _Due) -> None:
        key = (due.step_index, due.occurrence)
        step = self.steps[due.step_index]
        if due.action == OFF:
            with self._cond:
                activation = self._active.pop(key, None)
            if activation is not None:
                self._off(activation)
            return
        if step.every_s is not None:
            with self._cond:
                if not (self._winding_down or self._stopping):
                    self._push(due.at + step.every_s, ON, due.step_index, due.occurrence + 1)
        activation = self._on(step)
        if activation is not None and activation.active:
            with self._cond:
                self._active[key] = activation
                if step.duration_s is not None:
                    self._push(time.time() + step.duration_s, OFF, due.step_index,
                               due.occurrence)

    def _on(self, step: ChaosStep) -> Activation | None:
        seed = self.dice.getrandbits(32)
        if self.switch is not None:
            try:
                return self.switch(step, self.timeline, seed, self.dice)
            except ExodusError as exc:
                self.timeline.write("note", step.fault, step.target, {
                    **line_params(step, dict(step.params)), "skipped": str(exc)})
                return None
            except Exception as exc:  # an AWS refusal (no permission, throttled): noted
                self.timeline.write("note", step.fault, step.target, {
                    **line_params(step, dict(step.params)),
                    "skipped": f"{type(exc).__name__}: {exc}"})
                return None
        if self.state is None:
            self.timeline.write("note", step.fault, step.target, {
                **line_params(step, dict(step.params)),
                "skipped": "no state dir: this run can reach the stack only through HTTP"})
            return None
        try:
            return switch_on(step, self.state, self.timeline, seed, self.dice)
        except (ExodusError, OSError) as exc:
            self.timeline.write("note", step.fault, step.target, {
                **line_params(step, dict(step.params)), "skipped": str(exc)})
            return None

    def _off(self, activation: Activation) -> None:
        try:
            activation.off()
        except (ExodusError, OSError) as exc:
            log.warning("chaos: turning %s off failed: %s", activation.fault.name, exc)
