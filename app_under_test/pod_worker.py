"""The pod worker: store each parsed wish once and bump its tally, atomically.

``decode_body`` is pure; ``make_handler`` binds it to a store. Storing is idempotent (the
store's put-once-and-tally), so a redelivered message changes nothing and the handler can
safely report success only after the store committed. The ``lossy-worker`` flaw replays
the 2019 demo: fire-and-forget writes whose failures, and some wishes, are silently lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import zlib
from collections.abc import Callable
from typing import Any

from exodus2045.app_under_test.batch import BatchOutcome, PermanentFailure, decode_records
from exodus2045.app_under_test.errors import ExodusError, Retryable
from exodus2045.app_under_test.ports import Queue, WishStore
from exodus2045.app_under_test.tracing import hop_span, record_context, xray_attributes
from exodus2045.app_under_test.wish import DESTINATIONS, MESSAGE_MAX

REQUIRED = ("wish_id", "evacuee", "destination", "message")


def decode_body(body: str, *, strict: bool = True) -> dict[str, Any]:
    """One parsed-queue message -> the wish to store. PermanentFailure if it never fits."""
    try:
        wish = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PermanentFailure(f"malformed JSON: {exc}") from None
    if not isinstance(wish, dict):
        raise PermanentFailure(f"wrong schema: body is {type(wish).__name__}, not an object")
    missing = [k for k in REQUIRED if not isinstance(wish.get(k), str)]
    if missing:
        raise PermanentFailure(f"wrong schema: {missing[0]} missing or not a string")
    for key in REQUIRED:
        try:
            wish[key].encode("utf-8")
        except UnicodeEncodeError:
            raise PermanentFailure(f"invalid unicode: {key} holds a lone surrogate") from None
    if strict and wish["destination"] not in DESTINATIONS:
        raise PermanentFailure(f"wrong schema: unknown destination {wish['destination'][:20]!r}")
    if strict and len(wish["message"]) > MESSAGE_MAX:
        raise PermanentFailure(
            f"oversize: message is {len(wish['message'])} characters, the store takes {MESSAGE_MAX}"
        )
    return wish


def _dropped_by_lossy_worker(wish_id: str) -> bool:
    return zlib.crc32(wish_id.encode("utf-8", "replace")) % 25 == 0  # about 4%


def make_handler(
    store: WishStore, dead_letters: Queue, flaws: frozenset[str] = frozenset()
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    strict = "no-validation" not in flaws
    lossy = "lossy-worker" in flaws
    drop_poison = "no-dlq" in flaws

    def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        started = time.time()
        outcome = BatchOutcome()
        wishes = decode_records(event, lambda body: decode_body(body, strict=strict),
                                dead_letters, outcome, drop_poison=drop_poison)
        for _, wish in wishes:
            wish["store_started_at"] = started
        if lossy:
            keep = [(m, w) for m, w in wishes if not _dropped_by_lossy_worker(w["wish_id"])]
            outcome.done.extend(m for m, _ in wishes)  # "deleted" before storing
            with contextlib.suppress(ExodusError):  # the promise nobody awaited
                store.put_wishes([w for _, w in keep])
            return outcome.response()
        if wishes:
            try:
                stored = store.put_wishes([w for _, w in wishes])
                outcome.done.extend(m for m, _ in wishes)
            except Retryable:
                outcome.failures.extend(m for m, _ in wishes)
            else:
                _spans(event, wishes, stored, started, time.time())
        return outcome.response()

    return handler


def _spans(event: dict[str, Any], wishes: list[tuple[str, dict[str, Any]]], stored: list[bool],
           started: float, ended: float) -> None:
    """Queue wait 2 and store as spans, children of the parse span the message carried.

    A redelivered wish the store already held (``stored`` False) gets its spans too, marked,
    so a trace shows the duplicate delivery instead of hiding it.
    """
    records = {r.get("messageId"): r for r in event.get("Records", [])}
    for (mid, wish), new in zip(wishes, stored, strict=False):
        record = records.get(mid, {})
        traceparent, _, count = record_context(record)
        attrs = {"exodus.wish_id": wish["wish_id"], "exodus.receive_count": count,
                 "exodus.run_id": wish.get("run_id") if isinstance(wish.get("run_id"), str) else None,
                 "exodus.redelivered_duplicate": not new, **xray_attributes(record, os.environ)}
        parsed_at = wish.get("parsed_at")
        if isinstance(parsed_at, (int, float)):
            traceparent = hop_span("queue wait 2", traceparent, float(parsed_at), started, attrs)
        hop_span("store", traceparent, started, ended, attrs)
