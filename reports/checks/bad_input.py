"""``bad-input``: what an infiltrator sends to be rejected is rejected, loudly and for good.

Every wish the swarm planned as invalid (``expect == "reject"``) must get a 4xx on every
attempt: a 2xx means the pipeline took it, a 5xx means the pipeline broke on it instead of
refusing it. A connection error (status 0) is the one exception, and only when a later
attempt got the 4xx: a frontend killed while the request was in flight (a chaos scenario)
says nothing about the input, and the retry shows it was refused. A connection error that
never turned into a 4xx still fails: the input may be what brought the frontend down. And
none of it may be stored -- matched by ``wish_id`` and, because a lax frontend may mint a
fresh id, by the payload marker in stored text.

Against a team's pipeline, which wishes must be refused follows the adapter's ``[limits]``
(:mod:`exodus2045.reports.input_limits`); without one, a failure that the team's wider limits
would explain says so.
"""

from __future__ import annotations

from typing import Any

from exodus2045.reports.checks._markers import markers_in
from exodus2045.reports.input_limits import expected_answers, limit_hint
from exodus2045.reports.runfolder import RunData, WishSummary
from exodus2045.reports.verdict import CheckResult, capped

ID = "bad-input"


def _wrong_answers(wish: WishSummary) -> list[int]:
    statuses = wish.statuses
    wrong = []
    for i, status in enumerate(statuses):
        if 400 <= status < 500:
            continue
        if status == 0 and any(400 <= s < 500 for s in statuses[i + 1 :]):
            continue  # the connection broke, the retry was refused: refused
        wrong.append(status)
    return wrong


def check(run: RunData) -> CheckResult:
    try:
        answers, limits_note = expected_answers(run)
    except Exception as exc:  # the plan cannot be recomputed: no oracle for the limits
        return CheckResult.skip(ID, f"the adapter's [limits] could not be applied: {exc!r}")
    rejects = [w for w in run.wishes.values() if answers[w.wish_id] == "reject"]
    if not rejects:
        return CheckResult.skip(ID, "the ledger holds no wish planned to be rejected")
    answered_wrong: list[dict[str, Any]] = [
        {"wish_id": w.wish_id, "payload": w.payload, "statuses": list(w.statuses)}
        for w in rejects
        if _wrong_answers(w)
    ]
    stored: list[dict[str, Any]] = []
    store_note = ""
    if run.store is None:
        store_note = f" (whether any was stored was not judged: {run.why_missing('store')})"
    else:
        by_marker = {w.payload: w for w in rejects if w.payload}
        reject_markers = set(by_marker)
        reject_ids = {w.wish_id for w in rejects}
        for row in run.run_store():
            wish_id = str(row.get("wish_id"))
            found = markers_in(f"{row.get('evacuee')}\n{row.get('message')}") & reject_markers
            if wish_id in reject_ids or found:
                stored.append(
                    {
                        "wish_id": wish_id,
                        "markers": sorted(
                            found or {m for m, w in by_marker.items() if w.wish_id == wish_id}
                        ),
                    }
                )
    good = not answered_wrong and not stored
    taken = [w["wish_id"] for w in answered_wrong if any(200 <= s < 300 for s in w["statuses"])]
    hint = limit_hint(run, taken) if taken else ""
    if good:
        summary = f"all {len(rejects)} bad inputs got a 4xx on every attempt and none was stored"
    else:
        summary = (
            f"{len(answered_wrong)} of {len(rejects)} bad inputs got a non-4xx answer, "
            f"{len(stored)} stored wishes carry bad input"
        )
    markers = {w["payload"] for w in answered_wrong if w["payload"]}
    markers.update(m for s in stored for m in s["markers"])
    return CheckResult.judge(
        ID,
        good,
        summary + hint + store_note + limits_note,
        rejects=len(rejects),
        store_judged=run.store is not None,
        **capped("answered_wrong", answered_wrong),
        **capped("stored", stored),
        markers=sorted(markers),
    )
