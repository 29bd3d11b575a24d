"""The parser: validate, normalise and flag markup; pass parsed wishes on.

``parse_body`` is pure (body in, parsed wish out, or PermanentFailure with a reason).
``make_handler`` binds it to its queues and returns the Lambda-style
``handler(event, context) -> {"batchItemFailures": [...]}``: what cannot ever be valid goes
to the DLQ with its reason; a failure to send on is transient and reported for redelivery.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from exodus2045.app_under_test.batch import BatchOutcome, PermanentFailure, decode_records
from exodus2045.app_under_test.errors import InvalidWish, Retryable
from exodus2045.app_under_test.ports import OutgoingMessage, Queue
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
        outcome = BatchOutcome()
        parsed = decode_records(event, lambda body: parse_body(body, strict=strict, nfc=nfc),
                                dead_letters, outcome, drop_poison=drop_poison)
        if parsed:
            try:
                out_queue.send_batch(
                    [OutgoingMessage(json.dumps(w, ensure_ascii=False)) for _, w in parsed]
                )
                outcome.done.extend(mid for mid, _ in parsed)
            except Retryable:
                outcome.failures.extend(mid for mid, _ in parsed)
        return outcome.response()

    return handler
