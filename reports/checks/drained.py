"""``drained``: when the run ended, nothing was left waiting or half-processed in a queue.

A queue that never empties hides lost work: poison retried forever (the ``no-dlq`` flaw), a
consumer that died, a backlog that outgrew the deadline. Both queues must show zero visible
and zero in-flight messages, and the runner's drain must have finished before its deadline.
"""

from __future__ import annotations

from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import CheckResult

ID = "drained"


def check(run: RunData) -> CheckResult:
    if run.queues is None:
        return CheckResult.skip(ID, f"cannot see the queues: {run.why_missing('queues')}")
    depths = run.queues.get("queues") or {}
    if not depths:
        return CheckResult.skip(ID, "queues.json lists no queues")
    left = {
        name: int(d.get("visible") or 0) + int(d.get("in_flight") or 0)
        for name, d in depths.items()
    }
    busy = {name: n for name, n in left.items() if n}
    drain = run.drain
    in_time = drain.get("drained", True) is not False
    good = not busy and in_time
    if good:
        summary = f"{' and '.join(sorted(depths))} empty; drained in {drain.get('seconds', '?')} s"
    else:
        parts = [f"{name} still holds {n}" for name, n in sorted(busy.items())]
        if not in_time:
            parts.append(f"the drain missed its {drain.get('deadline_s', '?')} s deadline")
        summary = "; ".join(parts)
    return CheckResult.judge(
        ID,
        good,
        summary,
        depths=depths,
        drain=drain,
        left=left,
    )
