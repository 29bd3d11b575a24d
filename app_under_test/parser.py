"""The parser: validate, normalise and flag markup; pass parsed wishes on.

``parse_body`` is pure (body in, parsed wish out, or PermanentFailure with a reason).
``make_handler`` binds it to its queues and returns the Lambda-style
``handler(event, context) -> {"batchItemFailures": [...]}``: what cannot ever be valid goes
to the DLQ with its reason; a failure to send on is transient and reported for redelivery.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from exodus2045.app_under_test.batch import BatchOutcome, PermanentFailure, decode_records
from exodus2045.app_under_test.errors import InvalidWish, Retryable
from exodus2045.app_under_test.ports import OutgoingMessage, Queue
from exodus2045.app_under_test.tracing import (
    TRACEPARENT,
    hop_span,
    record_context,
    trace_id_of,
    xray_attributes,
)
from exodus2045.app_under_test.wish import (
    EVACUEE_MAX,
    MESSAGE_MAX,
    clean_destination,
    clean_text,
    clean_wish_id,
    has_markup,
)

SOURCES = ("swarm", "audience")


def parse_body(
    body: str, *, strict: bool = True, nfc: bool = True, now: float | None = None
) -> dict[str, Any]:
    """One queued submission -> one parsed wish. Raises PermanentFailure if never valid.

    ``nfc=False`` is the ``skip-nfc`` flaw: the message is stored in whatever Unicode
    composition it was sent in (decomposed accents stay decomposed).
    """
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PermanentFailure(f"malformed JSON: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    if not isinstance(data, dict):
        raise PermanentFailure(f"wrong schema: body is {type(data).__name__}, not an object")
    now = time.time() if now is None else now
    if not strict:
        return {**data, "markup": has_markup(str(data.get("message", ""))), "parsed_at": now}
    try:
        for name in ("wish_id", "evacuee", "destination", "message"):
            if name not in data:
                raise InvalidWish(name, "is required")
        run_id = data.get("run_id")
        if run_id is not None and (not isinstance(run_id, str) or len(run_id) > 100):
            raise InvalidWish("run_id", "must be a string of at most 100 characters")
        source = data.get("source", "audience")
        if source not in SOURCES:
            raise InvalidWish("source", f"must be one of {', '.join(SOURCES)}")
        message = clean_text("message", data["message"], MESSAGE_MAX, nfc=nfc)
        accepted_at = data.get("accepted_at")
        if accepted_at is not None and not isinstance(accepted_at, (int, float)):
            raise InvalidWish("accepted_at", "must be a number")
        return {
            "wish_id": clean_wish_id(data["wish_id"]),
            "run_id": run_id,
            "source": source,
            "evacuee": clean_text("evacuee", data["evacuee"], EVACUEE_MAX),
            "destination": clean_destination(data["destination"]),
            "message": message,
            "markup": has_markup(message),
            "accepted_at": accepted_at,
            "parsed_at": now,
        }
    except InvalidWish as exc:
        raise PermanentFailure(f"invalid wish: {exc}") from None


def make_handler(
    out_queue: Queue, dead_letters: Queue, flaws: frozenset[str] = frozenset()
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The parser Lambda, bound to where it sends parsed wishes and dead letters."""
    strict = "no-validation" not in flaws
    drop_poison = "no-dlq" in flaws
    nfc = "skip-nfc" not in flaws

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        started = time.time()
        outcome = BatchOutcome()
        parsed = decode_records(event, lambda body: parse_body(body, strict=strict, nfc=nfc),
                                dead_letters, outcome, drop_poison=drop_poison)
        if parsed:
            outgoing = _traced(event, parsed, started)
            try:
                out_queue.send_batch(outgoing)
                outcome.done.extend(mid for mid, _ in parsed)
            except Retryable:
                outcome.failures.extend(mid for mid, _ in parsed)
        return outcome.response()

    return handler


def _traced(
    event: dict[str, Any], parsed: list[tuple[str, dict[str, Any]]], started: float
) -> list[OutgoingMessage]:
    """Stamp each parsed wish with its hop times and trace id; carry the context on.

    ``enqueued_at`` is the wishes queue's own SentTimestamp (the frontend's durable
    enqueue), so queue wait 1 is measured by the queue, not by either side's guess.
    """
    records = {r.get("messageId"): r for r in event.get("Records", [])}
    out = []
    for mid, wish in parsed:
        record = records.get(mid, {})
        traceparent, sent_at, count = record_context(record)
        wish["enqueued_at"] = sent_at
        wish["parse_started_at"] = started
        attrs = {"exodus.wish_id": str(wish.get("wish_id", "")), "exodus.receive_count": count,
                 "exodus.run_id": wish.get("run_id") if isinstance(wish.get("run_id"), str) else None,
                 **xray_attributes(record, os.environ)}
        if sent_at is not None:
            traceparent = hop_span("queue wait 1", traceparent, sent_at, started, attrs)
        traceparent = hop_span("parse", traceparent, started, float(wish.get("parsed_at") or started),
                               attrs)
        wish["trace_id"] = trace_id_of(traceparent)
        out.append(OutgoingMessage(json.dumps(wish, ensure_ascii=False),
                                   {TRACEPARENT: traceparent}))
    return out
