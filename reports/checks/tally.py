"""``tally``: the tally counters, the stored rows and the ledger all tell the same story.

Two equalities, per destination. The store's counter rows moved exactly as much as its row
count did (a tally bumped on every redelivery breaks this: ``double-tally``). And this run's
stored wishes equal what the ledger says was acknowledged (the tally on the projector is
the audience's only proof that nothing was lost).
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
    if run.store is None:
        return CheckResult.skip(ID, f"cannot see stored wishes: {run.why_missing('store')}")
    before, after = run.tally.get("before") or {}, run.tally.get("after") or {}
    tally_delta = _delta(after.get("tally") or {}, before.get("tally") or {})
    counts_visible = before.get("stored") is not None and after.get("stored") is not None
    if not counts_visible:  # the store's row counts were not visible: judge the ledger part
        stored_delta = dict(tally_delta)
    else:
        stored_delta = _delta(after["stored"], before["stored"])
    stored_run = Counter(_destination(w.get("destination")) for w in run.run_store())
    acked = Counter(_destination(w.destination) for w in run.acknowledged())
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
    good = not counter_vs_rows and not rows_vs_ledger
    if good:
        summary = "tally moved as stored rows did; stored equals acknowledged per destination"
    else:
        parts = []
        if counter_vs_rows:
            parts.append(
                "tally moved differently from stored rows for " + ", ".join(counter_vs_rows)
            )
        if rows_vs_ledger:
            parts.append("stored differs from acknowledged for " + ", ".join(rows_vs_ledger))
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
    )
