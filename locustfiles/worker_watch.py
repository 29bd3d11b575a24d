"""The master notices a worker that died, by Locust's own heartbeat, and ends the run.

Locust marks a worker ``missing`` after about three missed heartbeats (one a second) but
fires no event for it, and a master whose worker died mid-run would wait out ``--run-time``
for evacuees leased to a process that no longer exists. This greenlet looks at the master's
worker list twice a second; when a worker that took part goes missing, it records the loss
in ``swarm.json`` (``workers_lost``) and ends the run early: the evacuees the dead worker had
not sent are never sent, ``complete`` stays False and the verdict can be no better than
unproven (docs/architecture.md "Verdict": an end the user did not choose).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gevent
from locust.runners import STATE_MISSING

if TYPE_CHECKING:
    from exodus2045.locustfiles.run import Run

CHECK_EVERY_S = 0.5


def missing_workers(runner: Any, seen: set[str]) -> list[str]:
    """Workers the master has seen during this run that are missing now, and record the rest."""
    lost = []
    for node in list(getattr(runner, "clients", {}).values()):
        if node.state == STATE_MISSING:
            if node.id in seen:
                lost.append(node.id)
        else:
            seen.add(node.id)
    return lost


def watch_workers(swarm: Any, run: Run) -> None:
    """Until the run is over: end it as soon as a worker that took part goes missing."""
    seen: set[str] = set()
    runner = swarm.environment.runner
    while not run.done.is_set():
        lost = [node for node in missing_workers(runner, seen) if node not in run.workers_lost]
        if lost:
            run.workers_lost.extend(lost)
            swarm.end_early(run, f"worker {', '.join(lost)} stopped sending heartbeats")
            return
        gevent.sleep(CHECK_EVERY_S)
