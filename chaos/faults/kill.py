"""``kill``: SIGKILL a component, once (the supervisor restarts it) or held down for a while.

Without ``duration`` it is one ``kill -9``: the timeline gets ``on`` and an immediate
``off`` and recovery is the supervisor's restart plus redelivery of whatever was in flight.
With ``duration`` the fault is published on the board and the supervisor's hold predicate
(:func:`exodus2045.chaos.hold.held_down_predicate`) keeps the component dead until it is off -- the
local stand-in for "Lambda reserved concurrency 0" or a deployment scaled to zero.
"""

from __future__ import annotations

import signal
from typing import Any

from exodus2045.chaos.faults.base import BoardFault, FaultContext

# chaos.processes (psutil, the supervisor) is imported where a process is signalled: the
# fault registry is also loaded inside a Lambda function, which has neither.


class Kill(BoardFault):
    name = "kill"
    summary = "SIGKILL a component; with a duration, hold it down until the fault is off"
    probability_per = "occurrence"  # one roll per kill; the hold itself is certain

    def is_instant(self, duration_s: float | None) -> bool:
        return duration_s is None

    def apply(self, ctx: FaultContext) -> dict[str, Any]:
        from exodus2045.chaos.processes import NoSuchComponent, live_components, signal_components

        if ctx.duration_s is None:
            killed = signal_components(ctx.state, ctx.target, signal.SIGKILL)
            return {"components": [name for name, _ in killed]}
        try:  # a component that is restarting right now is held all the same
            held = [name for name, _ in live_components(ctx.state, ctx.target)]
        except NoSuchComponent:
            held = []
        super().apply(ctx)
        return {"components": held}


FAULT = Kill()
