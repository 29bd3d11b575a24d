"""``[slo] abort_on_fail``: stop the swarm as soon as a threshold is already lost.

k6's ``abortOnFail``, for a run that has no point going on (a 20-minute soak whose p99 blew
up in minute two). The runner asks :func:`lost_threshold` about once a second with what the
ledger holds so far; the figures are the live ones the ledger gives (submit percentiles over
acknowledged attempts, the error ratio over all attempts), judged only after
``MIN_ATTEMPTS`` so one early slow answer does not end a run. End-to-end thresholds need the
store and are judged by the audit only. An aborted run is judged over what was sent
(``complete: false``), and the ``slo`` check fails naming the threshold and when it was lost.
"""

from __future__ import annotations

from typing import Any

from exodus2045.locustfiles.percentiles import percentile
from exodus2045.reports.thresholds import parse_threshold
from exodus2045.scenarios.swarm_process import LedgerTail

MIN_ATTEMPTS = 50


def live_figures(tail: LedgerTail) -> dict[str, float | None]:
    attempts = tail.acknowledged + tail.rejected + tail.errors
    figures: dict[str, float | None] = {
        "error_ratio": tail.errors / attempts if attempts else None}
    for q in (50, 95, 99):
        figures[f"submit_p{q}_ms"] = percentile(tail.latencies, q) if tail.latencies else None
    return figures


def lost_threshold(thresholds: tuple[str, ...], tail: LedgerTail) -> dict[str, Any] | None:
    """The first threshold the live figures already break, as run.json's ``aborted``."""
    if tail.acknowledged + tail.rejected + tail.errors < MIN_ATTEMPTS:
        return None
    figures = live_figures(tail)
    for text in thresholds:
        threshold = parse_threshold(text)
        value = figures.get(threshold.metric)
        if value is not None and not threshold.holds(value):
            return {"threshold": threshold.text, "value": round(value, 5),
                    "attempts": tail.acknowledged + tail.rejected + tail.errors}
    return None
