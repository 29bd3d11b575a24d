"""``no-false-rejects``: every valid wish was accepted; a 4xx to one is a failure, whatever the SLO.

A pipeline (or a swarm) that refuses a share of valid input can stay inside an error-ratio
SLO and still be wrong: the 4xx is a verdict on the wish, and the wish was valid. So every
wish the plan expected to be accepted (``expect == "accept"``) must have got the accepted
status on some attempt (docs/architecture.md "Ledger": acknowledged when any attempt got 202).

What did not get it falls in one of two groups, reported apart:

- **false rejects** (the check fails): some attempt got a 4xx other than 429 -- the target
  judged a valid wish invalid (415, 422, 409, ...);
- **unacknowledged** (reported, not failed): every attempt ended in a connection error
  (status 0), a 429 or a 5xx -- the target never judged the wish at all, and the retries ran
  out (or the run ended first). Whether that is acceptable is for ``slo`` and, for lost
  data, ``exactly-once`` to say.

Evidence per wish: its id, number, kind and payload marker, every attempt's status, and when
each attempt was sent (seconds after the run started), capped like every list in a verdict.
It reads only the ledger, so it judges every run: embedded stack, ``--target`` and AWS.
Against a team's pipeline, which wishes are valid follows the adapter's ``[limits]``
(:mod:`exodus2045.reports.input_limits`); without one, refusals that a smaller limit of the
team's explains are still failures, and the summary says which limit and where it seems to lie.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from exodus2045.reports.input_limits import expected_answers, limit_hint
from exodus2045.reports.runfolder import RunData, WishSummary
from exodus2045.reports.verdict import CheckResult, capped

ID = "no-false-rejects"
THROTTLED = 429  # "slow down", not "your wish is invalid": retried, never a false reject


def is_refusal(status: int) -> bool:
    """A 4xx that judges the wish itself (not a throttle)."""
    return 400 <= status < 500 and status != THROTTLED


def _seconds(at: float | None, t0: float) -> float | None:
    return None if at is None else round(at - t0, 3)


def _row(wish: WishSummary, t0: float) -> dict[str, Any]:
    return {
        "wish_id": wish.wish_id,
        "n": wish.n,
        "kind": wish.kind,
        "payload": wish.payload,
        "statuses": list(wish.statuses),
        "sent_s": [_seconds(a.sent_at, t0) for a in wish.attempts],
    }


def check(run: RunData) -> CheckResult:
    try:
        answers, limits_note = expected_answers(run)
    except Exception as exc:  # the plan cannot be recomputed: no oracle for the limits
        return CheckResult.skip(ID, f"the adapter's [limits] could not be applied: {exc!r}")
    valid = [w for w in run.wishes.values() if answers[w.wish_id] == "accept"]
    if not valid:
        return CheckResult.skip(ID, "the ledger holds no wish planned to be accepted")
    t0 = run.started_at
    refused = [w for w in valid if any(is_refusal(s) for s in w.statuses)]
    refused_ids = {w.wish_id for w in refused}
    unacked = [w for w in valid if not w.acknowledged and w.wish_id not in refused_ids]
    acknowledged = sum(1 for w in valid if w.acknowledged)
    by_status = Counter(s for w in refused for s in w.statuses if is_refusal(s))
    unacked_by_status = Counter(w.statuses[-1] for w in unacked)
    good = not refused
    if good:
        summary = f"all {len(valid)} valid wishes got no 4xx; {acknowledged} acknowledged"
        if unacked:
            summary += (
                f", {len(unacked)} unacknowledged (connection errors, 429 or 5xx until the "
                "retries ran out: not judged here)"
            )
    else:
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(by_status.items()))
        sent = [a.sent_at for w in refused for a in w.attempts if a.sent_at is not None]
        when = f" between t={min(sent) - t0:.1f}s and t={max(sent) - t0:.1f}s" if sent else ""
        summary = (
            f"{len(refused)} of {len(valid)} valid wishes were refused ({statuses}){when}; "
            f"{len(unacked)} more unacknowledged"
        ) + limit_hint(run, [w.wish_id for w in refused],
                       [w.wish_id for w in valid if w.acknowledged and w.wish_id not in refused_ids])
    return CheckResult.judge(
        ID,
        good,
        summary + limits_note,
        valid=len(valid),
        acknowledged=acknowledged,
        refused_by_status={str(s): n for s, n in sorted(by_status.items())},
        unacknowledged_by_status={str(s): n for s, n in sorted(unacked_by_status.items())},
        **capped("false_rejects", [_row(w, t0) for w in refused]),
        **capped("unacknowledged", [_row(w, t0) for w in unacked]),
    )
