"""``recovery:<fault>:<target>@<t>s``: after each fault ended, the pipeline came back in time.

One check per fault window (a timeline ``on`` with its matching ``off``). Recovered means
both halves of the pipeline are back: (a) evacuees are acknowledged within the submit SLO
again -- the first 5 s window after the fault in which there was at least one 202 and every
202 was within ``submit_p95_ms`` (or nobody sent anything), and (b) the queues' backlog
(visible + in-flight, from metrics.jsonl) is back to its level just before the fault, or
empty. Recovery time is the later of the two; it must not exceed ``recover_within_s``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exodus2045.reports.runfolder import Attempt, RunData
from exodus2045.reports.verdict import CheckResult

ID = "recovery"
WINDOW_S = 5.0


@dataclass(frozen=True)
class FaultWindow:
    """A fault that was switched on and later off; times are seconds since run start."""

    fault: str
    target: str
    on_t: float
    off_t: float
    check_id: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.off_t - self.on_t


def fault_windows(timeline: Iterable[Mapping[str, Any]]) -> list[FaultWindow]:
    """Pair each ``on`` with the first later ``off`` of the same fault and target."""
    open_: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    windows: list[FaultWindow] = []
    seen: dict[str, int] = {}
    for event in sorted(timeline, key=lambda e: float(e.get("t") or 0)):
        key = (str(event.get("fault")), str(event.get("target")))
        if event.get("event") == "on":
            open_.setdefault(key, []).append(event)
        elif event.get("event") == "off" and open_.get(key):
            on = open_[key].pop(0)
            on_t = float(on.get("t") or 0)
            base = f"recovery:{key[0]}:{key[1]}@{round(on_t)}s"
            seen[base] = seen.get(base, 0) + 1
            check_id = base if seen[base] == 1 else f"{base}#{seen[base]}"
            windows.append(
                FaultWindow(
                    key[0],
                    key[1],
                    on_t,
                    float(event.get("t") or 0),
                    check_id,
                    dict(on.get("params") or {}),
                )
            )
    return sorted(windows, key=lambda w: w.on_t)


def backlog(sample: Mapping[str, Any]) -> dict[str, int]:
    """visible + in_flight per queue in one metrics sample."""
    queues = sample.get("queues") or {}
    return {
        name: int(q.get("visible") or 0) + int(q.get("in_flight") or 0)
        for name, q in queues.items()
        if isinstance(q, Mapping)
    }


def ack_recovery_s(ledger: Iterable[Attempt], off_at: float, bound_ms: float) -> float:
    """Seconds after ``off_at`` until the first good 5 s window (always found: sends end)."""
    attempts = sorted(
        (a for a in ledger if a.sent_at is not None and a.sent_at >= off_at),
        key=lambda a: a.sent_at or 0.0,
    )
    times = [a.sent_at or 0.0 for a in attempts]
    k = 0
    while True:
        start = off_at + k * WINDOW_S
        lo = bisect.bisect_left(times, start)
        hi = bisect.bisect_left(times, start + WINDOW_S)
        if lo >= len(times) or lo == hi:
            return k * WINDOW_S
        acks = [a for a in attempts[lo:hi] if a.acknowledged]
        if acks and all(a.latency_ms is not None and a.latency_ms <= bound_ms for a in acks):
            return k * WINDOW_S
        k += 1


PRE_FAULT_WINDOW_S = 5.0
BATCH = 10  # messages a healthy poller holds in flight at once (the SQS batch size)


def healthy_backlog(stack: Mapping[str, Any]) -> dict[str, int]:
    """What a healthy pipeline always has in flight: one batch per poller of each stage.

    Under steady arrivals a queue is rarely empty at the instant of a sample, so "back to
    normal" cannot mean "back to zero"; it means no more than the pollers are working on.
    """
    return {"wishes": BATCH * int(stack.get("parsers") or 2),
            "parsed": BATCH * int(stack.get("pod_workers") or 2)}


def backlog_recovery_s(
    metrics: list[Mapping[str, Any]], on_t: float, off_t: float,
    healthy: Mapping[str, int] | None = None,
) -> tuple[float | None, dict[str, int]]:
    """(seconds after off until the backlog is back to normal, the pre-fault level).

    Normal is the larger of the highest backlog in the 5 s before the fault and the
    healthy in-flight level.
    """
    samples = sorted(metrics, key=lambda s: float(s.get("t") or 0))
    before: dict[str, int] = {}
    for s in samples:
        if on_t - PRE_FAULT_WINDOW_S <= float(s.get("t") or 0) <= on_t:
            for q, v in backlog(s).items():
                before[q] = max(before.get(q, 0), v)
    healthy = healthy or {}
    for s in samples:
        t = float(s.get("t") or 0)
        if t < off_t:
            continue
        if all(v <= max(before.get(q, 0), healthy.get(q, 0)) for q, v in backlog(s).items()):
            return t - off_t, before
    return None, before


def _judge(run: RunData, w: FaultWindow) -> CheckResult:
    slo = run.slo
    bound_s = slo.get("recover_within_s")
    evidence: dict[str, Any] = {
        "fault": w.fault,
        "target": w.target,
        "window": {"on_t": w.on_t, "off_t": w.off_t, "seconds": round(w.seconds, 3)},
        "bound_s": bound_s,
    }
    if bound_s is None:
        return CheckResult.skip(w.check_id, "the scenario sets no slo.recover_within_s", **evidence)
    if not run.metrics:
        return CheckResult.skip(
            w.check_id,
            f"no queue metrics to judge recovery: "
            f"{run.why_missing('metrics') if run.metrics is None else 'metrics.jsonl is empty'}",
            **evidence,
        )
    submit_bound = slo.get("submit_p95_ms")
    ack_s = (
        ack_recovery_s(run.ledger, run.started_at + w.off_t, float(submit_bound))
        if submit_bound is not None
        else 0.0
    )
    sees_queues = any(s.get("queues") for s in run.metrics)  # HTTP-only runs sample None
    if sees_queues:
        queue_s, before = backlog_recovery_s(run.metrics, w.on_t, w.off_t,
                                             healthy_backlog(run.scenario.get("stack") or {}))
    else:
        queue_s, before = 0.0, {}
    recovery = None if queue_s is None else max(ack_s, queue_s)
    evidence.update(
        ack_recovery_s=ack_s,
        backlog_recovery_s=queue_s if sees_queues else None,
        backlog_before=before,
        recovery_s=recovery,
        submit_p95_ms=submit_bound,
    )
    label = f"{w.fault} {w.target} ({round(w.seconds, 1):g} s)"
    if not sees_queues:
        label += ", queue backlog not visible: acknowledgements only"
    if recovery is None:
        return CheckResult.fail(
            w.check_id,
            f"after {label} the queue backlog never came back to its pre-fault level",
            **evidence,
        )
    good = recovery <= float(bound_s)
    return CheckResult.judge(
        w.check_id,
        good,
        f"recovered {round(recovery, 1):g} s after {label}; bound {float(bound_s):g} s",
        **evidence,
    )


def check(run: RunData) -> list[CheckResult]:
    if run.timeline is None:
        return []
    return [_judge(run, w) for w in fault_windows(run.timeline)]
