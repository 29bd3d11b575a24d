"""``tally``: the tally counters, the stored rows and the ledger all tell the same story.

Two equalities, per destination. The store's counter rows moved exactly as much as its row
count did (a tally bumped on every redelivery breaks this: ``double-tally``). And this run's
stored wishes equal what the ledger says was acknowledged (the tally on the projector is
the audience's only proof that nothing was lost).

Through HTTP alone the store's row counts are not visible, so the counters are judged
against the ledger instead: the tally must have moved by exactly the acknowledged count per
destination. The tally is global, so another client's traffic during the run would show as
a difference: that comparison is only attributable on a quiet target, and the evidence says
so. Without a listing, the run's rows are the ones per-wish lookups found.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import CheckResult

ID = "tally"


def _delta(after: Mapping[str, Any], before: Mapping[str, Any]) -> dict[str, int]:
    keys = set(after) | set(before)
    return {k: int(after.get(k) or 0) - int(before.get(k) or 0) for k in sorted(keys)}


def _destination(value: Any) -> str:
    return value.strip().lower() if isinstance(value, str) else repr(value)


def check(run: RunData) -> CheckResult:
    if run.tally is None:
        return CheckResult.skip(ID, f"cannot see the tally: {run.why_missing('tally')}")
    if run.store is not None:
        run_rows = run.run_store()
    elif run.lookups is not None:
        run_rows = run.looked_up()
    else:
        return CheckResult.skip(ID, f"cannot see stored wishes: {run.why_missing('store')}")
    before, after = run.tally.get("before") or {}, run.tally.get("after") or {}
    tally_delta = _delta(after.get("tally") or {}, before.get("tally") or {})
    counts_visible = before.get("stored") is not None and after.get("stored") is not None
    if not counts_visible:  # the store's row counts were not visible: judge the ledger part
        stored_delta = dict(tally_delta)
    else:
        stored_delta = _delta(after["stored"], before["stored"])
    stored_run = Counter(_destination(w.get("destination")) for w in run_rows)
    acked = Counter(_destination(w.destination) for w in run.acknowledged())
    tally_vs_ledger: dict[str, dict[str, int]] = {}
    if not counts_visible:  # HTTP: the counters against the ledger (a quiet target only)
        tally_vs_ledger = {
            k: {"tally_delta": tally_delta.get(k, 0), "acknowledged": acked.get(k, 0)}
            for k in sorted(set(tally_delta) | set(acked))
            if tally_delta.get(k, 0) != acked.get(k, 0)
        }
    keys = sorted(set(tally_delta) | set(stored_delta))
    counter_vs_rows = {
        k: {"tally_delta": tally_delta.get(k, 0), "stored_delta": stored_delta.get(k, 0)}
        for k in keys
        if tally_delta.get(k, 0) != stored_delta.get(k, 0)
    }
    run_keys = sorted(set(stored_run) | set(acked))
    rows_vs_ledger = {
        k: {"stored": stored_run.get(k, 0), "acknowledged": acked.get(k, 0)}
        for k in run_keys
        if stored_run.get(k, 0) != acked.get(k, 0)
    }
    good = not counter_vs_rows and not rows_vs_ledger and not tally_vs_ledger
    if good and not counts_visible:
        summary = "tally moved by exactly the acknowledged count; stored equals acknowledged"
    elif good:
        summary = "tally moved as stored rows did; stored equals acknowledged per destination"
    else:
        parts = []
        if counter_vs_rows:
            parts.append(
                "tally moved differently from stored rows for " + ", ".join(counter_vs_rows)
            )
        if rows_vs_ledger:
            parts.append("stored differs from acknowledged for " + ", ".join(rows_vs_ledger))
        if tally_vs_ledger:
            parts.append("tally moved differently from acknowledged for "
                         + ", ".join(tally_vs_ledger))
        summary = "; ".join(parts)
    return CheckResult.judge(
        ID,
        good,
        summary,
        tally_delta=tally_delta,
        stored_delta=stored_delta,
        run_stored=dict(sorted(stored_run.items())),
        acknowledged=dict(sorted(acked.items())),
        counter_vs_rows=counter_vs_rows,
        counts_visible=counts_visible,
        rows_vs_ledger=rows_vs_ledger,
        tally_vs_ledger=tally_vs_ledger,
        rows_from="store" if run.store is not None else "lookup",
        **({} if counts_visible else {"attribution": (
            "the tally is global: another client's traffic during the run would show as a "
            "difference here; judged as a quiet target")}),
    )
