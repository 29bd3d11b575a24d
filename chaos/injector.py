"""Inside one component: which faults are on for me, and do the dice say this call is hit?

Every component process builds one :class:`Injector` with its name (``pod-worker:1``) and a
fault source. Each board entry carries a seed; the injector rolls a ``Random`` seeded with
that seed and its own name, so a run with the same seed hits the same calls in the same
component (given the same calls), and two components do not share one dice sequence.
"""

from __future__ import annotations

import logging
import os
import random

from exodus2045.chaos import faults
from exodus2045.chaos.board import ActiveFault
from exodus2045.chaos.faults.crash_after_store import EXIT_CODE
from exodus2045.chaos.source import FaultSource
from exodus2045.chaos.targets import Target, parse_target, split_component

log = logging.getLogger("exodus.chaos")


class Injector:
    """Port faults, visibility and crash-after-store as one component sees them."""

    def __init__(self, source: FaultSource, component: str) -> None:
        self.source = source
        self.component = component
        self.kind = split_component(component)[0]
        self._dice: dict[str, random.Random] = {}
        self._ports = faults.port_faults()
        self._targets: dict[str, Target | None] = {}

    def _mine(self, fault: str, operation: str | None = None) -> list[ActiveFault]:
        out = []
        for entry in self.source.active():
            if entry.fault != fault:
                continue
            target = self._target(entry.target)
            if target is not None and target.matches(self.component, self.kind, operation):
                out.append(entry)
        return out

    def _target(self, text: str) -> Target | None:
        if text not in self._targets:
            try:
                self._targets[text] = parse_target(text)
            except Exception:  # a hand-edited board must not take a component down
                log.warning("%s: ignoring fault with bad target %r", self.component, text)
                self._targets[text] = None
        return self._targets[text]

    def active_here(self) -> list[str]:
        """``"fault target"`` of each fault on now whose target covers this component."""
        out = []
        for entry in self.source.active():
            target = self._target(entry.target)
            if target is not None and target.matches(self.component, self.kind):
                out.append(f"{entry.fault} {entry.target}")
        return out

    def roll(self, entry: ActiveFault) -> bool:
        """True with the entry's probability, from this component's seeded dice."""
        if entry.probability >= 1.0:
            return True
        dice = self._dice.get(entry.id)
        if dice is None:
            dice = self._dice[entry.id] = random.Random(f"{entry.seed}:{self.component}")
        return dice.random() < entry.probability

    def before(self, operation: str) -> None:
        """Called before every port call: raise the service's error or delay, as the dice say."""
        for entry in self.source.active():
            fault = self._ports.get(entry.fault)
            if fault is None:
                continue
            target = self._target(entry.target)
            if target is None or target.operation != operation:
                continue
            if target.matches(self.component, self.kind, operation) and self.roll(entry):
                fault.inject(operation, entry.params)

    def visibility_timeout(self) -> float | None:
        """The shrunk visibility timeout for this receive, or None for the queue's own."""
        for entry in self._mine("visibility"):
            if self.roll(entry):
                return float(entry.params["seconds"])
        return None

    def crash_if_due(self, stored: int) -> None:
        """crash-after-store: die now (no cleanup, like a crash) if the dice say so."""
        if stored <= 0:
            return
        for entry in self._mine("crash-after-store"):
            if self.roll(entry):
                os.write(2, f"{self.component}: chaos crash-after-store: "
                         f"{stored} messages stored, not deleted; exiting {EXIT_CODE}\n".encode())
                os._exit(EXIT_CODE)
