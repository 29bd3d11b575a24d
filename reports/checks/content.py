"""``content``: every stored wish of this run says exactly what its evacuee sent.

The markup policy (docs/architecture.md "Markup policy") makes this an exact comparison: the
stored text is the sent text after Unicode NFC and removal of control characters (the
evacuee's name also trimmed), destination lower-cased, markup kept literal. The audit states
that policy itself (:mod:`exodus2045.reports.markup_policy`), never through the pipeline's
normaliser, so a sanitiser that strips tags, a parser that upper-cases (as the 2019 demo did)
or skips NFC (the ``skip-nfc`` flaw), or a wrong ``markup`` flag all show up here.

A team's adapter may declare another content mode (docs/architecture.md "Adapter: content
modes"): ``normalized`` or ``escaped`` changes how the evacuee and the message are compared
(:mod:`exodus2045.reports.content_modes`), never what is expected; the destination is always
compared exactly.

Without a listing of the run's rows, the rows per-wish lookups found are compared instead
(each acknowledged wish at most once: exactly what content needs).

What was sent comes from ``sent.jsonl`` when the runner kept it; otherwise it is regenerated
from the seed through :func:`regenerate_sent`, the one place that knows the swarm's planner.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from exodus2045.reports.content_modes import MODES, differs, mode_of
from exodus2045.reports.markup_policy import (
    expected_destination,
    expected_evacuee,
    expected_text,
    has_markup,
)
from exodus2045.reports.replan import replan
from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import CheckResult, capped

ID = "content"
FIELDS = ("evacuee", "destination", "message")
_SHOW = 200  # characters of a text shown in evidence
_MODED = ("evacuee", "message")  # the user's text; a content mode applies to these


def regenerate_sent(run: RunData, wish_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Re-plan what the swarm sent for ``wish_ids`` from the seed
    (:func:`exodus2045.reports.replan.replan`; any failure raises)."""
    sent: dict[str, dict[str, Any]] = {}
    ahead = run.sent_fields()  # re-planned by the runner while the swarm ran (reports/ahead.py)
    if ahead is not None:
        numbers = [(w, run.wishes[w].n) for w in wish_ids if w in run.wishes]
        if all(n is None or 0 <= n < len(ahead) for _, n in numbers):  # else replan raises
            for wish_id, n in numbers:
                if n is not None:
                    sent[wish_id] = {"wish_id": wish_id, **dict(zip(FIELDS, ahead[n],
                                                                     strict=True))}
            return sent
    for wish_id, planned in replan(run, wish_ids).items():
        body = planned.body if isinstance(planned.body, dict) else {}  # None: not even JSON
        sent[wish_id] = {"wish_id": wish_id, **{f: body.get(f) for f in FIELDS}}
    return sent


def _expected(
    sent: dict[str, Any], seen: dict[Any, Any] | None = None
) -> tuple[tuple[str, Any], ...] | None:
    """``(field, expected value)`` pairs in the order mismatches are reported: evacuee,
    destination, message, markup; None when what was sent is not three strings."""
    values = [sent.get(f) for f in FIELDS]
    if not all(isinstance(v, str) for v in values):
        return None
    evacuee, destination, message = values
    if seen is None:
        seen = {}
    return (
        ("evacuee", _once(seen, ("evacuee", evacuee), expected_evacuee, evacuee)),
        ("destination", _once(seen, ("destination", destination), expected_destination,
                              destination)),
        *_once(seen, ("message", message), _expected_message, message),
    )


def _expected_message(message: str) -> tuple[tuple[str, Any], ...]:
    expected = expected_text(message)
    return ("message", expected), ("markup", has_markup(expected))


def _once(seen: dict[Any, Any], key: tuple[str, Any], compute: Any, value: Any) -> Any:
    """``compute(value)``, once per distinct field value (each is a pure function of it): a
    65k run draws its names and messages from pools, so most values repeat one already seen,
    while whole (name, destination, message) triples rarely do."""
    try:
        return seen[key]
    except KeyError:
        seen[key] = result = compute(value)
        return result


def _short(value: Any) -> Any:
    return value[:_SHOW] + "…" if isinstance(value, str) and len(value) > _SHOW else value


def check(run: RunData) -> CheckResult:
    mode = mode_of(run.meta)
    if mode not in MODES:
        return CheckResult.skip(ID, f"run.json names an unknown content mode {mode!r}")
    if run.store is not None:
        stored, rows_from = run.run_store(), "the run's stored rows"
    elif run.lookups is not None:
        stored, rows_from = run.looked_up(), "rows found by lookup"
    else:
        return CheckResult.skip(ID, f"cannot see stored wishes: {run.why_missing('store')}")
    source = "sent.jsonl"
    sent = run.sent
    if sent is None:
        try:
            sent = regenerate_sent(run, [str(w.get("wish_id")) for w in stored])
            source = "regenerated from the seed"
        except Exception as exc:  # any planner failure means "no oracle", not a crash
            return CheckResult.skip(
                ID,
                f"sent.jsonl is missing and what was sent could not be regenerated: {exc!r}",
            )
    mismatches: list[dict[str, Any]] = []
    unsent: list[str] = []
    uncomparable: list[str] = []
    expected_for: dict[Any, Any] = {}  # pooled names and messages repeat
    for row in stored:
        wish_id = str(row.get("wish_id"))
        record = sent.get(wish_id)
        if record is None:
            unsent.append(wish_id)
            continue
        expected = _expected(record, expected_for)
        if expected is None:
            uncomparable.append(wish_id)
            continue
        for name, want in expected:
            if name == "markup" and "markup" not in row:
                continue  # a target that keeps no markup flag (a team's own) is not judged on one
            got = bool(row.get(name)) if name == "markup" else row.get(name)
            why = differs(mode, want, got) if name in _MODED else (
                None if got == want else "differs")
            if why is not None:
                payload = run.wishes[wish_id].payload if wish_id in run.wishes else None
                mismatch = {
                    "wish_id": wish_id,
                    "field": name,
                    "payload": payload,
                    "expected": _short(want),
                    "stored": _short(got),
                }
                if mode != "exact":
                    mismatch["note"] = f"{mode}: {why}"
                elif isinstance(got, str) and unicodedata.normalize("NFC", got) == want:
                    mismatch["note"] = "stored text is not NFC-normalised"  # looks identical
                mismatches.append(mismatch)
    good = not mismatches and not unsent
    if good:
        summary = (
            f"all {len(stored) - len(uncomparable)} stored wishes match what was sent ({source}"
            + ("" if mode == "exact" else f", compared {mode}") + ")"
        )
    else:
        summary = (
            f"{len({m['wish_id'] for m in mismatches})} stored wishes differ from what was sent, "
            f"{len(unsent)} have no record of being sent ({source})"
        )
    return CheckResult.judge(
        ID,
        good,
        summary,
        source=source,
        content_mode=mode,
        rows_from=rows_from,
        compared=len(stored) - len(unsent) - len(uncomparable),
        **capped("mismatches", mismatches),
        **capped("unsent", unsent),
        **capped("uncomparable", uncomparable),
        markers=sorted({m["payload"] for m in mismatches if m["payload"]}),
    )
