"""``no-phantoms``: nothing of this run is stored that the swarm was never told was accepted.

A stored wish without a 202 in the ledger means the pipeline kept something while telling
the evacuee it failed (a 500 thrown after the enqueue: the ``ua-500`` flaw), or stored a
wish nobody sent. Either way the sender retries, gives up, or complains: the ledger and the
store disagree about what happened.
"""

from __future__ import annotations

from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import CheckResult, capped

ID = "no-phantoms"


def check(run: RunData) -> CheckResult:
    if run.store is None:
        return CheckResult.skip(ID, f"cannot see stored wishes: {run.why_missing('store')}")
    stored = run.run_store()
    phantoms: list[dict[str, object]] = []
    for row in stored:
        wish = run.wishes.get(str(row.get("wish_id")))
        if wish is None or not wish.acknowledged:
            phantoms.append(
                {
                    "wish_id": row.get("wish_id"),
                    "ledger": "never sent"
                    if wish is None
                    else "statuses " + ",".join(str(s) for s in wish.statuses),
                    "payload": wish.payload if wish else None,
                }
            )
    good = not phantoms
    summary = (
        f"all {len(stored)} stored wishes of this run were acknowledged"
        if good
        else f"{len(phantoms)} of {len(stored)} stored wishes never got a 202"
    )
    return CheckResult.judge(
        ID,
        good,
        summary,
        stored=len(stored),
        **capped("phantoms", phantoms),
        markers=sorted({str(p["payload"]) for p in phantoms if p["payload"]}),
    )
