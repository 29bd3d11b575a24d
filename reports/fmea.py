"""Failure modes ranked by risk, FMEA style: severity x occurrence x detection (1-1000).

A verdict says *what* failed; an FMEA table says what to fix first. Severity is fixed per
check (losing or duplicating a wish, or running a stranger's script in the audience's
browser, is worst), occurrence is scaled from what this run measured (the share of wishes or
attempts affected), and detection says how reliably the check sees the mode (1: an exact
reconciliation by wish id; higher: sampled or statistical). Injected faults are listed too,
with what they caused, so a presenter can point at cause and effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exodus2045.reports.checks.recovery import FaultWindow, fault_windows
from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import Verdict

#: check id -> (failure mode, severity 1-10, detection 1-10)
MODES: dict[str, tuple[str, int, int]] = {
    "exactly-once": ("acknowledged wish lost or stored twice", 10, 2),
    "no-phantoms": ("wish stored although the evacuee was told it failed", 7, 2),
    "tally": ("tally disagrees with stored wishes or the ledger", 6, 2),
    "content": ("stored text differs from what was sent", 8, 2),
    "bad-input": ("bad input accepted, stored or answered with a server error", 8, 2),
    "no-false-rejects": ("valid wish refused with a 4xx", 8, 2),
    "no-executable-markup": ("a stored payload executes on a page (XSS)", 10, 4),
    "drained": ("messages left in a queue at the end", 6, 3),
    "dlq-explained": ("dead letter without reason, or an acknowledged wish dead-lettered", 7, 3),
    "slo": ("service-level objective breached", 5, 4),
    "recovery": ("slow recovery after a fault", 5, 5),
}
_DEFAULT = ("check failed", 5, 5)
_FAULT_SEVERITY, _FAULT_DETECTION = 4, 3
# share of wishes affected -> occurrence: (share strictly above, rank)
_OCCURRENCE = (
    (0.3, 10),
    (0.1, 9),
    (0.05, 8),
    (0.02, 7),
    (0.01, 6),
    (0.005, 5),
    (0.001, 4),
    (0.0001, 3),
    (0.0, 2),
)


@dataclass(frozen=True)
class FailureMode:
    """One row of the table. ``rpn`` = severity x occurrence x detection."""

    mode: str
    check: str
    severity: int
    occurrence: int
    detection: int
    rpn: int
    evidence_count: int
    cause: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def occurrence(share: float) -> int:
    """1 when nothing was affected, 10 when more than 30% was."""
    for above, rank in _OCCURRENCE:
        if share > above:
            return rank
    return 1


def _mode(
    mode: str, check: str, severity: int, share: float, detection: int, count: int, cause: str
) -> FailureMode:
    occ = occurrence(share)
    return FailureMode(
        mode, check, severity, occ, detection, severity * occ * detection, count, cause
    )


def evidence_count(evidence: Mapping[str, Any]) -> int:
    """How many things a check's evidence names: the sum of its ``*_total`` counts."""
    return sum(int(v) for k, v in evidence.items() if k.endswith("_total") and isinstance(v, int))


def _count_for(check_id: str, evidence: Mapping[str, Any], run: RunData) -> tuple[int, int]:
    """(affected, out of) for a failed check."""
    wishes = max(1, len(run.wishes))
    if check_id == "tally":
        diffs = [
            abs(v["tally_delta"] - v["stored_delta"])
            for v in evidence.get("counter_vs_rows", {}).values()
        ]
        diffs += [
            abs(v["stored"] - v["acknowledged"])
            for v in evidence.get("rows_vs_ledger", {}).values()
        ]
        return sum(diffs), wishes
    if check_id == "no-false-rejects":  # unacknowledged wishes are listed, not the mode
        return int(evidence.get("false_rejects_total") or 0), wishes
    if check_id == "drained":
        return sum((evidence.get("left") or {}).values()), wishes
    if check_id == "slo":
        ratio = (evidence.get("figures") or {}).get("error_ratio") or 0.0
        attempts = max(1, len(run.ledger))
        return max(len(evidence.get("breaches") or ()), round(ratio * attempts)), attempts
    return evidence_count(evidence), wishes


def _fault_effects(run: RunData, w: FaultWindow, until_t: float) -> dict[str, int]:
    """Error answers, dead letters, restarts and redeliveries between fault on and ``until_t``."""
    start, end = run.started_at + w.on_t, run.started_at + until_t
    errors = sum(
        1 for a in run.ledger if a.sent_at is not None and start <= a.sent_at <= end and a.is_error
    )
    sent = sum(1 for a in run.ledger if a.sent_at is not None and start <= a.sent_at <= end)
    effects = {
        "attempts": sent,
        "errors": errors,
        "dead_letters": 0,
        "restarts": 0,
        "redeliveries": 0,
    }
    samples = sorted(run.metrics or (), key=lambda s: float(s.get("t") or 0))
    before = [s for s in samples if float(s.get("t") or 0) <= w.on_t]
    during = [s for s in samples if w.on_t <= float(s.get("t") or 0) <= until_t]
    if during:
        base = before[-1] if before else {}
        last = during[-1]

        def dlq(sample: Mapping[str, Any]) -> int:
            return sum(
                int(q.get("dlq") or 0)
                for q in (sample.get("queues") or {}).values()
                if isinstance(q, Mapping)
            )

        effects["dead_letters"] = max(0, dlq(last) - dlq(base))
        for key in ("restarts", "redeliveries"):
            effects[key] = max(0, int(last.get(key) or 0) - int(base.get(key) or 0))
    return effects


def _fault_mode(run: RunData, verdict: Verdict, w: FaultWindow) -> FailureMode:
    try:
        result = verdict.check(w.check_id)
    except KeyError:
        result = None
    recovered = result.evidence.get("recovery_s") if result else None
    until = w.off_t + (
        recovered
        if isinstance(recovered, (int, float))
        else float(run.slo.get("recover_within_s") or 0)
    )
    fx = _fault_effects(run, w, until)
    severity = _FAULT_SEVERITY + (2 if result is not None and result.failed else 0)
    cause = (
        f"{fx['errors']} error answers of {fx['attempts']} attempts, "
        f"{fx['dead_letters']} dead letters, {fx['restarts']} restarts, "
        f"{fx['redeliveries']} redeliveries"
    )
    share = fx["errors"] / fx["attempts"] if fx["attempts"] else 0.0
    return _mode(
        f"fault: {w.fault} {w.target} for {round(w.seconds, 1):g} s",
        w.check_id,
        severity,
        share,
        _FAULT_DETECTION,
        fx["errors"] + fx["dead_letters"],
        cause,
    )


def failure_modes(verdict: Verdict, run: RunData) -> list[FailureMode]:
    """Every failed check and every injected fault, highest risk first."""
    rows: list[FailureMode] = []
    for result in verdict.failed:
        family = result.id.split(":", 1)[0]
        mode, severity, detection = MODES.get(family, _DEFAULT)
        count, out_of = _count_for(family, result.evidence, run)
        share = count / out_of or 1e-9  # it failed, so it happened at least once
        rows.append(_mode(mode, result.id, severity, share, detection, count, result.summary))
    rows.extend(_fault_mode(run, verdict, w) for w in fault_windows(run.timeline or ()))
    return sorted(rows, key=lambda m: (-m.rpn, m.check))
