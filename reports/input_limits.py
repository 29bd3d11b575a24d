"""The input limits a wish is judged against: Exodus's, or the ones a team's adapter declares.

docs/architecture.md "Adapter: input limits". The swarm plans each wish to be accepted or
rejected by Exodus's own limits (docs/architecture.md "Input limits", restated here as
:data:`EXODUS`: the audit states its contracts itself). A team whose API has other limits
-- a 500-character message, no Jupiter, a blank message stored as empty -- declares them in
its adapter's ``[limits]``, and ``bad-input`` and ``no-false-rejects`` then expect, for each
wish, the answer the team's *declared* limits give (:func:`expectations`): a legal Exodus
wish beyond the team's limit must be refused, an oversize infiltrator within it accepted.

Only what limits decide is re-judged: lengths (characters after NFC; the name trimmed), the
body's size (bytes as the swarm sent it), which destinations exist, and a message of only
whitespace. Everything else an infiltrator sends (broken JSON, a wrong type, an unknown
field, a malformed id, another content type) is refused whatever the limits.

With no ``[limits]`` Exodus's are assumed; when a team's differ, the failure this causes is
named as such (:func:`limit_hint`), never passed off as a plain defect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from exodus2045.reports.markup_policy import expected_evacuee, expected_text

EMPTY = ("reject", "accept")
#: Invalid kinds whose answer depends on the limits; every other kind is always refused.
LIMIT_KINDS = frozenset({"oversize-message", "oversize-evacuee", "oversize-body",
                         "empty-message", "unknown-destination"})


@dataclass(frozen=True)
class InputLimits:
    evacuee_max: int = 100  # characters, after NFC and trimming
    message_max: int = 2000  # characters, after NFC
    body_max: int = 16 * 1024  # bytes of the request body as the swarm sends it
    destinations: tuple[str, ...] = ("mars", "jupiter")  # Exodus's names of those that exist
    empty_message: str = "reject"  # what the API does with a message of only whitespace

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "destinations": list(self.destinations)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InputLimits:
        return cls(**{**data, "destinations": tuple(data.get("destinations", cls.destinations))})


EXODUS = InputLimits()


def declared(meta: Mapping[str, Any]) -> InputLimits | None:
    """The limits the run's adapter declared, or None (no adapter, or no ``[limits]``)."""
    adapter = meta.get("adapter")
    limits = adapter.get("limits") if isinstance(adapter, Mapping) else None
    return InputLimits.from_json(limits) if isinstance(limits, Mapping) else None


def expect_under(limits: InputLimits, planned: Any) -> tuple[str, str | None]:
    """``(accept|reject, why)`` for a planned wish (``expect``, ``family``, ``body``,
    ``raw``) under ``limits``; the plan's own answer for what limits do not decide."""
    if planned.expect == "reject" and planned.family not in LIMIT_KINDS:
        return "reject", None
    body = planned.body
    fields = [body.get(f) for f in ("evacuee", "destination", "message")] \
        if isinstance(body, dict) else []
    if len(fields) != 3 or not all(isinstance(v, str) for v in fields):
        return planned.expect, None
    evacuee, destination, message = fields
    why = []
    if len(planned.raw) > limits.body_max:
        why.append(f"body is {len(planned.raw)} bytes (at most {limits.body_max})")
    text = expected_text(message)
    if not text.strip():
        if limits.empty_message == "reject":
            why.append("message is blank")
    elif len(text) > limits.message_max:
        why.append(f"message is {len(text)} characters (at most {limits.message_max})")
    name = expected_evacuee(evacuee)
    if not name or len(name) > limits.evacuee_max:
        why.append(f"evacuee is {len(name)} characters (1 to {limits.evacuee_max})")
    if destination.strip().lower() not in limits.destinations:
        why.append(f"destination {destination!r} is not one of {list(limits.destinations)}")
    return ("reject", "; ".join(why)) if why else ("accept", None)


def expectations(run: Any) -> dict[str, tuple[str, str | None]] | None:
    """``wish_id -> (expected answer, why)`` under the adapter's declared limits, for the
    wishes whose answer they change; None when the run declares none (or Exodus's own).
    Re-plans the run from its seed (:mod:`exodus2045.reports.replan`); raises if it cannot."""
    limits = declared(run.meta)
    if limits is None or limits == EXODUS:
        return None
    from exodus2045.reports.replan import replan

    out = {}
    for wish_id, planned in replan(run, list(run.wishes)).items():
        answer = expect_under(limits, planned)
        if answer[0] != planned.expect:
            out[wish_id] = answer
    return out


def limit_hint(run: Any, wrong: Iterable[str], right: Iterable[str] = ()) -> str:
    """When no ``[limits]`` were declared and the wishes in ``wrong`` (valid ones refused, or
    bad ones accepted) are told apart from those in ``right`` (valid ones accepted) by a
    limit, say which and where it seems to lie; else ``""``."""
    if declared(run.meta) is not None or not isinstance(run.meta.get("adapter"), Mapping):
        return ""
    wrong, right = list(wrong), list(right)
    try:
        from exodus2045.reports.replan import replan

        planned = replan(run, wrong + right)
    except Exception:  # no planner: no hint, the failure stands as it is
        return ""
    bad = [planned[i] for i in wrong if i in planned]
    if not bad:
        return ""
    if all(p.expect == "reject" for p in bad):
        kinds = sorted({str(p.family) for p in bad})
        if set(kinds) <= LIMIT_KINDS:
            return (f"; every bad input the target took is of a kind input limits decide "
                    f"({', '.join(kinds)}) and the adapter declares no [limits], so Exodus's "
                    "were assumed: if the team's limits are wider, declare them there")
        return ""
    good = [planned[i] for i in right if i in planned]
    for name, measure in (("message", _message_len), ("evacuee", _evacuee_len)):
        refused = [n for n in map(measure, bad) if n is not None]
        taken = [n for n in map(measure, good) if n is not None]
        if len(refused) == len(bad) and (not taken or min(refused) > max(taken)):
            seen = f", every accepted one at most {max(taken)}" if taken else ""
            return (f"; every refused valid wish has a {name} of {min(refused)}-"
                    f"{max(refused)} characters{seen}: the target's {name} limit looks "
                    f"smaller than Exodus's {getattr(EXODUS, name + '_max')} and the adapter "
                    "declares no [limits] -- declare the team's there")
    return ""


def _field(planned: Any, name: str) -> str | None:
    body = planned.body if isinstance(planned.body, dict) else {}
    value = body.get(name)
    return value if isinstance(value, str) else None


def _message_len(planned: Any) -> int | None:
    text = _field(planned, "message")
    return None if text is None else len(expected_text(text))


def _evacuee_len(planned: Any) -> int | None:
    text = _field(planned, "evacuee")
    return None if text is None else len(expected_evacuee(text))


def expected_answers(run: Any) -> tuple[dict[str, str], str]:
    """``(wish_id -> accept|reject, note)`` for every wish of the ledger: the plan's answer,
    or the declared limits' where they differ; the note says how many they changed."""
    changed = expectations(run) or {}
    answers = {w.wish_id: changed.get(w.wish_id, (w.expect, None))[0]
               for w in run.wishes.values()}
    limits = declared(run.meta)
    if limits is None:
        return answers, ""
    note = f" (expected answers by the adapter's [limits]: {len(changed)} differ from Exodus's)"
    return answers, note
