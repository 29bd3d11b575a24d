"""One wish, one trace: W3C trace context and the hop timestamps, with or without an SDK.

The context rides HTTP as the ``traceparent`` header and every queue message as a message
attribute of the same name (SQS ``MessageAttributes``; the local queue carries attributes
the same way), so each hop continues the trace its input started (docs/architecture.md
"Tracing"). Spans go through the OpenTelemetry *API* only: without an SDK installed and
configured they are non-recording and cost next to nothing, and the trace id still
propagates unchanged. The per-hop breakdown never depends on spans: each hop's timestamp
travels in the message body and is stored with the wish (:data:`HOP_TIMES`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, TraceFlags

TRACEPARENT = "traceparent"  # the HTTP header and the queue message attribute
TRACER = "exodus2045.pipeline"

#: The stored wish's hop timestamps, in pipeline order (epoch seconds). Consecutive pairs
#: bound the five hops: accept (incl. the durable enqueue), queue wait 1, parse, queue
#: wait 2, store.
HOP_TIMES = (
    "accepted_at", "enqueued_at", "parse_started_at", "parsed_at", "store_started_at", "stored_at",
)  # fmt: skip
HOPS = ("accept", "queue_wait_1", "parse", "queue_wait_2", "store")

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def parse(value: str | None) -> tuple[str, str, int] | None:
    """``(trace_id, parent_span_id, flags)`` of a valid version-00 traceparent, else None."""
    if not value or len(value) != 55:
        return None
    match = _TRACEPARENT.match(value)
    if match is None or match[1] == _ZERO_TRACE or match[2] == _ZERO_SPAN:
        return None
    return match[1], match[2], int(match[3], 16)


def format_traceparent(trace_id: str, span_id: str, flags: int = 1) -> str:
    return f"00-{trace_id}-{span_id}-{flags:02x}"


def trace_id_for(wish_id: str) -> str:
    """The swarm's trace id for a wish: its UUID's 32 hex digits (else a hash of the id).

    Deterministic, so the ledger and the stored wish can be joined on it without either
    side remembering a random number.
    """
    hexed = wish_id.replace("-", "").lower()
    if len(hexed) == 32 and all(c in "0123456789abcdef" for c in hexed) and hexed != _ZERO_TRACE:
        return hexed
    return hashlib.blake2b(wish_id.encode("utf-8", "replace"), digest_size=16).hexdigest()


def swarm_traceparent(trace_id: str) -> str:
    """The root context an evacuee sends (its span id: the trace id's second half)."""
    span = trace_id[16:] if trace_id[16:] != _ZERO_SPAN else "1".rjust(16, "0")
    return format_traceparent(trace_id, span)


def new_trace_id() -> str:
    return secrets.token_hex(16)


def _context(traceparent: str | None) -> Any:
    """An OpenTelemetry context whose parent is ``traceparent`` (a new root if None/invalid)."""
    parsed = parse(traceparent)
    if parsed is None:
        parsed = (new_trace_id(), secrets.token_hex(8), 1)
    trace_id, span_id, flags = parsed
    parent = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                         trace_flags=TraceFlags(flags))
    return trace.set_span_in_context(NonRecordingSpan(parent))


def start_hop(
    name: str,
    parent: str | None,
    start: float,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> tuple[Span, str]:
    """Start one hop's span (``start`` in epoch seconds); ``(span, traceparent to pass on)``.

    Without an SDK the tracer is a no-op: the returned traceparent is the parent's own, which
    is exactly "continue the trace" (a fresh root when there was no valid parent).
    """
    ctx = _context(parent)
    span = trace.get_tracer(TRACER).start_span(
        name, context=ctx, kind=kind, start_time=int(start * 1e9),
        attributes={k: v for k, v in (attributes or {}).items() if v is not None},
    )
    sc = span.get_span_context()
    if not sc.is_valid:
        sc = trace.get_current_span(ctx).get_span_context()
    return span, format_traceparent(f"{sc.trace_id:032x}", f"{sc.span_id:016x}",
                                    int(sc.trace_flags))


def end_hop(span: Span, end: float | None = None) -> None:
    span.end(end_time=None if end is None else int(end * 1e9))


def hop_span(
    name: str,
    parent: str | None,
    start: float,
    end: float,
    attributes: Mapping[str, Any] | None = None,
) -> str:
    """A hop whose start and end are already known, as one span; the traceparent to pass on."""
    span, traceparent = start_hop(name, parent, start, attributes)
    end_hop(span, max(start, end))
    return traceparent


def trace_id_of(traceparent: str | None) -> str | None:
    parsed = parse(traceparent)
    return parsed[0] if parsed else None


def record_context(record: Mapping[str, Any]) -> tuple[str | None, float | None, int]:
    """``(traceparent, sent_at, receive_count)`` of one SQS event record (as Lambda gives it)."""
    attrs = record.get("messageAttributes") or {}
    value = attrs.get(TRACEPARENT)
    traceparent = value.get("stringValue") if isinstance(value, Mapping) else None
    system = record.get("attributes") or {}
    try:
        sent_at: float | None = int(system["SentTimestamp"]) / 1000.0
    except (KeyError, TypeError, ValueError):
        sent_at = None
    try:
        count = int(system.get("ApproximateReceiveCount", 1))
    except (TypeError, ValueError):
        count = 1
    return traceparent, sent_at, count
