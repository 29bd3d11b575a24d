"""``dlq-explained``: every dead letter says why, and no acknowledged wish died there unseen.

The DLQ is where poison belongs -- with its reason, so an operator can act. But a wish the
swarm was told was accepted must end up stored; if it sits in the DLQ instead, a promise was
broken quietly (a transient failure treated as permanent, a visibility timeout too short).
"""

from __future__ import annotations

import json
from typing import Any

from exodus2045.reports.questions import Question
from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import CheckResult, capped

ID = "dlq-explained"


def _wish_id(body: Any) -> str | None:
    try:
        data = json.loads(body) if isinstance(body, str) else body
    except (json.JSONDecodeError, TypeError):
        return None
    wish_id = data.get("wish_id") if isinstance(data, dict) else None
    return wish_id if isinstance(wish_id, str) else None


def check(run: RunData) -> CheckResult:
    if run.queues is None:
        return CheckResult.skip(ID, f"cannot see the queues: {run.why_missing('queues')}")
    why = run.unanswered(Question.DEAD_LETTERS)
    if why:  # depths alone say how many died, not which wish nor why
        return CheckResult.skip(ID, f"cannot read the dead letters: {why}")
    letters = [d for d in run.queues.get("dead_letters") or () if isinstance(d, dict)]
    unexplained = [
        {"queue": d.get("queue"), "message_id": d.get("message_id")}
        for d in letters
        if not str(d.get("reason") or "").strip()
    ]
    stored_ids = {str(w.get("wish_id")) for w in run.run_store()} if run.store is not None else None
    broken: list[dict[str, Any]] = []
    for d in letters:
        # a source that knows the wish's id says so (a team's dead letter is its own shape)
        wish = run.wishes.get(str(d.get("wish_id") or _wish_id(d.get("body")) or ""))
        if wish and wish.acknowledged and stored_ids is not None and wish.wish_id not in stored_ids:
            broken.append(
                {
                    "queue": d.get("queue"),
                    "message_id": d.get("message_id"),
                    "wish_id": wish.wish_id,
                    "payload": wish.payload,
                    "reason": d.get("reason"),
                }
            )
    good = not unexplained and not broken
    note = (
        ""
        if stored_ids is not None
        else f" (acknowledged wishes not judged: {run.why_missing('store')})"
    )
    if good:
        summary = f"{len(letters)} dead letters, each with its reason{note}"
    else:
        summary = (
            f"{len(unexplained)} of {len(letters)} dead letters have no reason, "
            f"{len(broken)} hold an acknowledged wish that was never stored{note}"
        )
    return CheckResult.judge(
        ID,
        good,
        summary,
        dead_letters=len(letters),
        **capped("unexplained", unexplained),
        **capped("acknowledged_not_stored", broken),
        markers=sorted({b["payload"] for b in broken if b["payload"]}),
    )
