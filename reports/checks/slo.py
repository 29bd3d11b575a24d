"""``slo``: the run met its service-level objectives (submit p95, error ratio, end-to-end p95).

Submit latency is judged on acknowledged attempts after the warm-up (a cold start is not
what users live with). The error ratio counts what a user experiences as failure: connection
errors, 5xx, conflicts and throttling (409/429), and any 4xx to a wish that should have been
accepted -- but not the 4xx an infiltrator was supposed to get. End-to-end latency
(accepted -> stored) shows a backlog the 202s hide.
"""

from __future__ import annotations

from typing import Any

from exodus2045.locustfiles.percentiles import percentile
from exodus2045.reports.runfolder import Attempt, RunData
from exodus2045.reports.thresholds import ThresholdError, evaluate, parse_threshold
from exodus2045.reports.verdict import CheckResult

ID = "slo"


def is_failure(attempt: Attempt, expect: str) -> bool:
    """Would the sender count this answer as the service failing them?"""
    status = attempt.status
    if status == 0 or status >= 500 or status in (409, 429):
        return True
    return 400 <= status < 500 and expect != "reject"


def submit_latencies(run: RunData) -> list[float]:
    """latency_ms of attempts that got 202, sent after the warm-up."""
    warm = run.started_at + float(run.slo.get("warmup_s") or 0)
    return [
        a.latency_ms
        for a in run.ledger
        if a.acknowledged and a.latency_ms is not None and (a.sent_at is None or a.sent_at >= warm)
    ]


def error_ratio(run: RunData) -> float | None:
    expect = {w.wish_id: w.expect for w in run.wishes.values()}
    if not run.ledger:
        return None
    failures = sum(1 for a in run.ledger if is_failure(a, expect.get(a.wish_id, "accept")))
    return failures / len(run.ledger)


def e2e_seconds(stored: list[dict[str, Any]]) -> list[float]:
    """stored_at - accepted_at for every stored wish that carries both."""
    out = []
    for w in stored:
        accepted, stored_at = w.get("accepted_at"), w.get("stored_at")
        if isinstance(accepted, (int, float)) and isinstance(stored_at, (int, float)):
            out.append(float(stored_at) - float(accepted))
    return out


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def stored_rows(run: RunData) -> list[dict[str, Any]] | None:
    """The run's stored rows, or those lookups found (they carry the same timestamps)."""
    if run.store is not None:
        return run.run_store()
    return run.looked_up() if run.lookups is not None else None


def threshold_figures(run: RunData) -> dict[str, float | None]:
    """Every metric a threshold expression may name (reports/thresholds.py ``METRICS``)."""
    submit = submit_latencies(run)
    rows = stored_rows(run)
    e2e = e2e_seconds(rows) if rows is not None else []
    out: dict[str, float | None] = {"error_ratio": _round(error_ratio(run), 5)}
    for q in (50, 95, 99):
        out[f"submit_p{q}_ms"] = _round(percentile(submit, q))
        out[f"e2e_p{q}_s"] = _round(percentile(e2e, q)) if e2e else None
    return out


def _thresholds(run: RunData) -> tuple[list[str], list[str], list[str]] | str:
    exprs = run.slo.get("thresholds") or []
    try:
        parsed = [parse_threshold(e) for e in exprs]
    except ThresholdError as exc:
        return str(exc)
    return evaluate(parsed, threshold_figures(run)) if parsed else ([], [], [])


def check(run: RunData) -> CheckResult:
    if not run.ledger:
        return CheckResult.skip(ID, "the ledger is empty: no attempt to judge")
    slo = run.slo
    judged = _thresholds(run)
    if isinstance(judged, str):
        return CheckResult.fail(ID, f"[slo] thresholds: {judged}")
    t_met, t_breached, t_unjudged = judged
    bounds = {
        "submit_p95_ms": slo.get("submit_p95_ms"),
        "error_ratio": slo.get("error_ratio"),
        "e2e_p95_s": slo.get("e2e_p95_s"),
    }
    if all(v is None for v in bounds.values()) and not (t_met or t_breached or t_unjudged):
        return CheckResult.skip(ID, "the scenario sets no SLO (run.json scenario.slo is empty)")
    rows = stored_rows(run)
    figures: dict[str, float | None] = {
        "submit_p95_ms": _round(percentile(submit_latencies(run), 95)),
        "error_ratio": _round(error_ratio(run), 5),
        "e2e_p95_s": _round(percentile(e2e_seconds(rows), 95)) if rows is not None else None,
    }
    breaches: list[str] = []
    not_judged: list[str] = []
    for name, bound in bounds.items():
        value = figures[name]
        if bound is None:
            continue
        if value is None:
            why = (
                run.why_missing("store") if name == "e2e_p95_s" and run.store is None else "no data"
            )
            not_judged.append(f"{name} ({why})")
        elif value > float(bound):
            breaches.append(f"{name} {value:g} > {float(bound):g}")
    breaches += t_breached
    not_judged += t_unjudged
    aborted = run.meta.get("aborted")
    if aborted:  # [slo] abort_on_fail stopped the swarm: that threshold was lost live
        breaches.insert(0, f"swarm aborted at {aborted.get('t')}s: {aborted.get('threshold')} "
                        f"lost (live value {aborted.get('value')})")
    good = not breaches
    met = ", ".join(
        [f"{k} {v:g} <= {float(bounds[k]):g}"
         for k, v in figures.items() if v is not None and bounds[k] is not None] + t_met
    )
    summary = "met: " + met if good else "breached: " + "; ".join(breaches)
    if not_judged:
        summary += "; not judged: " + ", ".join(not_judged)
    return CheckResult.judge(
        ID,
        good,
        summary,
        figures=figures,
        bounds=bounds,
        breaches=breaches,
        thresholds=list(slo.get("thresholds") or []),
        aborted=aborted,
        warmup_s=slo.get("warmup_s") or 0,
    )
