"""The audit: a run folder in, a verdict out.

The oracle is deliberately separate from the run: it reads only the folder
(:mod:`exodus2045.reports.runfolder`), runs every registered check (:mod:`exodus2045.reports.checks`), and adds
the figures a report shows next to the checks. A check that crashes is itself a finding --
it is reported as failed with the error, never allowed to take the whole verdict down --
while a folder that cannot be read at all raises :class:`exodus2045.reports.runfolder.RunFolderError`
(the CLI turns it into exit 2, "could not run").
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from exodus2045.locustfiles.percentiles import percentiles
from exodus2045.reports.checks import registered
from exodus2045.reports.checks.slo import e2e_seconds
from exodus2045.reports.costs import run_cost
from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import CheckResult, Verdict


def run_checks(run: RunData, modules: Iterable[Any] | None = None,
               timings: dict[str, float] | None = None) -> list[CheckResult]:
    """Every check's results, in registry order; a check that raises becomes a failure.

    ``timings`` (when given) receives each result id's judging time in seconds: the audit's
    own cost, which junit.xml reports per test case (``check-times.json``)."""
    results: list[CheckResult] = []
    for module in registered() if modules is None else modules:
        tick = time.perf_counter()
        try:
            outcome = module.check(run)
        except Exception as exc:  # a buggy check is a finding, not a crashed audit
            outcome = CheckResult.fail(
                module.ID,
                f"the check itself failed: {type(exc).__name__}: {exc}",
                error=repr(exc),
            )
        batch = outcome if isinstance(outcome, list) else [outcome]
        if timings is not None:
            spent = (time.perf_counter() - tick) / max(1, len(batch))
            timings.update((r.id, round(spent, 6)) for r in batch)
        results.extend(batch)
    return results


def _swarm_seconds(run: RunData) -> float | None:
    swarm = run.swarm or {}
    start = swarm.get("started_at") or run.meta.get("started_at")
    end = swarm.get("ended_at") or run.meta.get("swarm_ended_at")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end > start:
        return float(end) - float(start)
    sent = [a.sent_at for a in run.ledger if a.sent_at is not None]
    return (max(sent) - min(sent)) if len(sent) > 1 and max(sent) > min(sent) else None


def figures(run: RunData) -> dict[str, Any]:
    """Throughput, latency percentiles and counts: what a report shows beside the checks."""
    acked = run.acknowledged()
    seconds = _swarm_seconds(run)
    answered = [a for a in run.ledger if a.status != 0]
    rejected = [
        w for w in run.wishes.values() if not w.acknowledged and 400 <= w.attempts[-1].status < 500
    ]
    swarm = run.swarm or {}
    stored = run.run_store() if run.store is not None else None
    letters = (run.queues or {}).get("dead_letters")
    return {
        "throughput": round(len(acked) / seconds, 3) if seconds else None,
        "swarm_s": round(seconds, 3) if seconds else None,
        "service_ms": percentiles(a.latency_ms for a in answered if a.latency_ms is not None),
        "response_ms": percentiles(a.response_ms for a in answered if a.response_ms is not None),
        "e2e_s": percentiles(e2e_seconds(stored)) if stored is not None else None,
        "counts": {
            "evacuees": len(run.wishes),
            "attempts": len(run.ledger),
            "acknowledged": len(acked),
            "rejected": len(rejected),
            "stored": len(stored) if stored is not None else None,
            "audience": len(run.audience) if run.audience is not None else None,
            "dead_letters": len(letters) if isinstance(letters, list) else None,
            "late": swarm.get("late"),
            "dropped": swarm.get("dropped"),
        },
        # what this exodus would cost on AWS, from the counts above (reports/costs.py)
        "aws_cost": run_cost(len(acked), seconds,
                             len(letters) if isinstance(letters, list) else 0),
    }


def swarm_complete(run: RunData) -> bool:
    """Did every evacuee leave? The swarm says so in swarm.json (``complete``: every evacuee
    has its final answer); without that, every planned evacuee must appear in the ledger."""
    said = (run.swarm or {}).get("complete")
    if isinstance(said, bool):
        return said
    planned = (run.scenario.get("load") or {}).get("evacuees")
    if isinstance(planned, int) and not isinstance(planned, bool):
        return len(run.wishes) >= planned
    return not run.interrupted


def audit_run(run_dir: Path | str, timings: dict[str, float] | None = None) -> Verdict:
    """Judge one run folder. Raises RunFolderError if the folder cannot be read.

    ``allow_partial`` comes from run.json (``exodus run --allow-partial``), so a re-render of
    the folder tells the same headline and exit code as the run did.
    """
    return audit_data(RunData.load(run_dir), timings)


def audit_data(run: RunData, timings: dict[str, float] | None = None) -> Verdict:
    """Judge a run folder already read: the runner reads it once for the audit and the
    reports (:func:`exodus2045.reports.render.render_all` takes the same :class:`RunData`)."""
    modules = registered()
    return Verdict.judge(
        run_id=run.run_id,
        scenario=run.scenario_name,
        seed=run.seed,
        interrupted=run.interrupted,
        checks=run_checks(run, modules, timings),
        figures=figures(run),
        complete=swarm_complete(run),
        allow_partial=bool(run.meta.get("allow_partial", False)),
        registry=[module.ID for module in modules],
    )
