"""``pause``: SIGSTOP a component for ``duration``, then SIGCONT it.

A paused process holds whatever it held: its received messages stay invisible, and if it was
inside an SQLite write transaction every writer of that file waits until it resumes
(docs/architecture.md "Known property of the local backend"). That stall is a true consequence to be reported,
not hidden, so the fault does nothing to avoid it.
"""

from __future__ import annotations

import signal
from typing import Any

from exodus2045.chaos.faults.base import REQUIRED, Fault, FaultContext

# chaos.processes is imported where it is used: see kill.py.


class Pause(Fault):
    name = "pause"
    summary = "SIGSTOP a component for the duration, then SIGCONT it"
    duration = REQUIRED
    duration_why = "a paused process without one would stay stopped forever"

    def apply(self, ctx: FaultContext) -> dict[str, Any]:
        from exodus2045.chaos.processes import signal_components

        stopped = signal_components(ctx.state, ctx.target, signal.SIGSTOP)
        ctx.memo["pids"] = [pid for _, pid in stopped]
        return {"components": [name for name, _ in stopped]}

    def revert(self, ctx: FaultContext) -> dict[str, Any]:
        from exodus2045.chaos.processes import resume

        resumed = resume(ctx.memo.pop("pids", []))
        return {"resumed": len(resumed)}


FAULT = Pause()
