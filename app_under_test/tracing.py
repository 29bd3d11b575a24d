"""One wish, one trace: W3C trace context and the hop timestamps, with or without an SDK.

The context rides HTTP as the ``traceparent`` header and every queue message as a message
attribute of the same name (SQS ``MessageAttributes``; the local queue carries attributes
the same way), so each hop continues the trace its input started (docs/architecture.md
"Tracing"). Spans are made only for the traces this process records (:func:`record_spans`): without
an SDK, with tracing off, or for a wish head sampling left out, no span object is made at
all, and the trace id still propagates unchanged. A recorded hop is handed, finished, to the
OpenTelemetry SDK's exporters (:mod:`exodus2045.app_under_test.tracing_sdk`). The per-hop breakdown never depends on spans: each hop's timestamp
travels in the message body and is stored with the wish (:data:`HOP_TIMES`).
"""

from __future__ import annotations

import hashlib
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.trace import SpanKind

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
    """A fresh root's trace id. Not a secret, so the cheap generator (as the SDK's own)."""
    value = random.getrandbits(128)
    return f"{value or 1:032x}"


#: ``emit(hop)``: hands one finished, recorded hop to the exporters (set by
#: ``tracing_sdk.configure``, which turns it into an SDK span for its processors).
Emitter = Callable[["Hop"], None]
#: ``annotate()``: attributes for a recorded hop starting now (chaos: the faults on here).
Annotator = Callable[[], Mapping[str, Any]]


@dataclass
class _Recording:
    """Whether this process records spans, for which share of traces, and what else goes on
    them.

    Set once by :func:`record_spans` (``tracing_sdk.configure`` calls it when it installs an
    SDK provider); until then no span is made at all, so a process without the SDK, or with
    tracing off, pays for nothing but the traceparent it passes on.
    """

    emit: Emitter | None = None
    bound: int = 1 << 32  # keep a trace when its trace id's top 32 bits are below this
    annotators: list[Annotator] = field(default_factory=list)


_recording = _Recording()


class Hop:
    """One recorded hop: W3C ids as ints, times in epoch nanoseconds. The hop builds its own
    ids and hands the finished span to the exporters in one piece: the SDK's tracer would
    cost three times as much per span (``exodus bench tracing``; README "Tracing")."""

    __slots__ = ("name", "trace_id", "span_id", "parent_id", "start_ns", "end_ns",
                 "attributes", "kind", "links")

    def __init__(self, name: str, trace_id: int, span_id: int, parent_id: int, start_ns: int,
                 attributes: dict[str, Any], kind: SpanKind,
                 links: list[tuple[int, int, dict[str, str]]]) -> None:
        self.name, self.trace_id, self.span_id, self.parent_id = name, trace_id, span_id, parent_id
        self.start_ns, self.end_ns = start_ns, start_ns
        self.attributes, self.kind, self.links = attributes, kind, links


def sample_bound(ratio: float) -> int:
    return int(min(max(ratio, 0.0), 1.0) * (1 << 32))


def record_spans(emit: Emitter | None, ratio: float = 1.0) -> None:
    """Record spans through ``emit`` for ``ratio`` of the traces (by trace id, see below)."""
    _recording.emit = emit
    _recording.bound = sample_bound(ratio)


def recording() -> bool:
    return _recording.emit is not None


def annotate_spans(annotator: Annotator) -> None:
    """Add ``annotator``'s attributes to every hop this process records from now on."""
    _recording.annotators.append(annotator)


def sampled(trace_id: int) -> bool:
    """Head sampling by trace id, not by parent: every process decides the same for a wish,
    so a kept trace is whole (the hop times stored with each wish are never sampled). The
    decision reads the trace id's top 32 bits: the swarm's trace ids are wish UUIDs, whose
    low half starts with the variant bits, so OpenTelemetry's own TraceIdRatioBased (low 64
    bits) would keep none of them below a ratio of one half."""
    return (trace_id >> 96) < _recording.bound


def start_hop(
    name: str,
    parent: str | None,
    start: float,
    attributes: Mapping[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
) -> tuple[Hop | None, str]:
    """Start one hop's span (``start`` in epoch seconds); ``(hop, traceparent to pass on)``.

    A trace this process does not record (no SDK, tracing off, or sampled out) gets no span
    work at all: the hop is None and the traceparent passed on is the parent's own, which is
    exactly "continue the trace" (a fresh root when there was no valid parent). That keeps
    head sampling's cost to the sampled share.
    """
    parsed = parse(parent)
    if parsed is None:
        parsed = (new_trace_id(), f"{random.getrandbits(64) or 1:016x}", 1)
        parent = format_traceparent(*parsed)
    trace_id = int(parsed[0], 16)
    if _recording.emit is None or not sampled(trace_id):
        return None, parent
    attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
    for annotate in _recording.annotators:
        attrs.update(annotate())
    span_id = random.getrandbits(64) or 1
    hop = Hop(name, trace_id, span_id, int(parsed[1], 16), int(start * 1e9), attrs, kind,
              _xray_links(attrs))
    return hop, format_traceparent(parsed[0], f"{span_id:016x}", 1)


def end_hop(hop: Hop | None, end: float | None = None) -> None:
    emit = _recording.emit
    if hop is not None and emit is not None:
        hop.end_ns = max(hop.start_ns, int((time.time() if end is None else end) * 1e9))
        emit(hop)


def hop_span(
    name: str,
    parent: str | None,
    start: float,
    end: float,
    attributes: Mapping[str, Any] | None = None,
) -> str:
    """A hop whose start and end are already known, as one span; the traceparent to pass on."""
    hop, traceparent = start_hop(name, parent, start, attributes)
    end_hop(hop, end)
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


#: Where Lambda sets X-Ray's header, it is recorded on the hop's spans, raw, and as a link to
#: the X-Ray trace, so a team on X-Ray finds the wish's trace from theirs and back: the
#: sender's context as the SQS system attribute ``AWSTraceHeader`` of each record, the
#: invocation's own as ``_X_AMZN_TRACE_ID`` in the function's environment.
XRAY_MESSAGE = "aws.xray.message_trace_header"
XRAY_INVOCATION = "aws.xray.invocation_trace_header"
XRAY_ENV = "_X_AMZN_TRACE_ID"
_XRAY_ROOT = re.compile(r"(?:^|;)\s*Root=1-([0-9a-f]{8})-([0-9a-f]{24})(?:;|$)")
_XRAY_PARENT = re.compile(r"(?:^|;)\s*Parent=([0-9a-f]{16})(?:;|$)")


def xray_attributes(record: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """The X-Ray headers of one SQS record's delivery (none off AWS, or without X-Ray)."""
    out = {}
    header = (record.get("attributes") or {}).get("AWSTraceHeader")
    if isinstance(header, str) and header:
        out[XRAY_MESSAGE] = header
    invocation = env.get(XRAY_ENV)
    if invocation:
        out[XRAY_INVOCATION] = invocation
    return out


def xray_context(header: str) -> tuple[str, str] | None:
    """``(trace id, span id)`` in W3C hex of an X-Ray header with a Root and a Parent.

    X-Ray's ``Root=1-<8 hex epoch>-<24 hex>`` is a 128-bit id as OpenTelemetry's X-Ray
    propagator reads it: the 32 hex digits after the version.
    """
    root, parent = _XRAY_ROOT.search(header), _XRAY_PARENT.search(header)
    if root is None or parent is None:
        return None
    return root[1] + root[2], parent[1]


def _xray_links(attributes: Mapping[str, Any]) -> list[tuple[int, int, dict[str, str]]]:
    if XRAY_MESSAGE not in attributes and XRAY_INVOCATION not in attributes:
        return []
    links = []
    for key in (XRAY_MESSAGE, XRAY_INVOCATION):
        header = attributes.get(key)
        ctx = xray_context(header) if isinstance(header, str) else None
        if ctx is not None:
            links.append((int(ctx[0], 16), int(ctx[1], 16), {"exodus.link": key}))
    return links
