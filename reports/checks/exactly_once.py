"""``exactly-once``: every acknowledged wish is stored exactly once.

A 202 is a promise ("durably enqueued"); the store is where the promise is kept. A missing
row is a lost wish (lossy worker, early ack, overwritten key); a second row is a duplicate
that a redelivery slipped past the put-once step. Both are judged by ``wish_id``, the
client-chosen idempotency key, over this run's stored wishes only.

Without a listing of the run's rows (an HTTP-only target without one), per-wish lookups
still prove loss: an acknowledged wish no lookup finds fails the check. They cannot see a
second row, so when every wish was found the check is skipped with that reason.
"""

from __future__ import annotations

from collections import Counter

from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import CheckResult, capped

ID = "exactly-once"


def check(run: RunData) -> CheckResult:
    if run.store is None:
        if run.lookups is None:
            return CheckResult.skip(ID, f"cannot see stored wishes: {run.why_missing('store')}")
        return _by_lookup(run)
    rows = Counter(w.get("wish_id") for w in run.run_store())
    acked = run.acknowledged()
    missing = [w for w in acked if rows[w.wish_id] == 0]
    duplicated = [w for w in acked if rows[w.wish_id] > 1]
    good = not missing and not duplicated
    if good:
        summary = f"all {len(acked)} acknowledged wishes are stored exactly once"
    else:
        summary = (
            f"{len(missing)} of {len(acked)} acknowledged wishes are not stored, "
            f"{len(duplicated)} are stored more than once"
        )
    return CheckResult.judge(
        ID,
        good,
        summary,
        acknowledged=len(acked),
        **capped("missing", [w.wish_id for w in missing]),
        **capped(
            "duplicated", [{"wish_id": w.wish_id, "rows": rows[w.wish_id]} for w in duplicated]
        ),
        markers=sorted({w.payload for w in (*missing, *duplicated) if w.payload}),
    )


def _by_lookup(run: RunData) -> CheckResult:
    acked = run.acknowledged()
    missing = run.lookup_missing()
    if not missing:
        return CheckResult.skip(
            ID, f"all {len(acked)} acknowledged wishes were found stored by lookup, but a "
            f"lookup cannot see a second row: {run.why_missing('store')}")
    payloads = {w.wish_id: w.payload for w in acked}
    return CheckResult.judge(
        ID, False, f"{len(missing)} of {len(acked)} acknowledged wishes are not stored "
        "(by lookup; duplicates not visible without a listing)",
        acknowledged=len(acked), by="lookup", **capped("missing", missing),
        markers=sorted({p for i in missing if (p := payloads.get(i))}))
