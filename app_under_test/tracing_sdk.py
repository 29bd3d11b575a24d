"""Turn spans on in a pipeline process, when the ``tracing`` extra is installed.

Spans are the export, not the measurement (the hop timestamps stored with each wish are:
:mod:`exodus2045.app_under_test.tracing`). So this is best effort by design: without the
OpenTelemetry SDK, or with ``EXODUS_TRACING=off``, :func:`configure` says why and the
process runs exactly as before on the no-op API.

Where spans go: one JSON line per span appended to ``<state dir>/spans.jsonl`` (the run's
evidence collector copies them into the run folder, so a run needs no collector), and,
when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is set, over OTLP/HTTP as
well, the standard way to a team's own collector, Jaeger, Tempo or an APM vendor. Both go
through a batch processor: the request path only hands a finished span to a queue.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from exodus2045.app_under_test import tracing
from exodus2045.app_under_test.settings import (
    DEFAULT_TRACE_SAMPLE,
    ENV_TRACE_SAMPLE,
    ENV_TRACING,
    env_float,
)

log = logging.getLogger("exodus.tracing")

SPANS_FILE = "spans.jsonl"
OTLP_ENV = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def span_record(span: Any) -> dict[str, Any]:
    """One finished SDK span as the JSON line spans.jsonl holds (ids in W3C hex)."""
    return json.loads(span_line(span))


_dumps = json.JSONEncoder(ensure_ascii=False).encode


def span_line(span: Any) -> str:
    """:func:`span_record` as its line, formatted by hand: with every span kept this runs
    once per hop per wish, and a dict through ``json.dumps`` costs twice as much."""
    ctx = span.context
    parent = span.parent
    parent_id = f'"{parent.span_id:016x}"' if parent is not None else "null"
    return (f'{{"trace_id":"{ctx.trace_id:032x}","span_id":"{ctx.span_id:016x}",'
            f'"parent_span_id":{parent_id},"name":{_dumps(span.name)},'
            f'"service":{_dumps(span.resource.attributes.get("service.name"))},'
            f'"start":{span.start_time / 1e9!r},"end":{span.end_time / 1e9!r},'
            f'"attributes":{_dumps(dict(span.attributes or {}))}}}\n')


def sample_ratio(env: Mapping[str, str] = os.environ) -> float:
    """The share of wishes whose spans are kept (``EXODUS_TRACE_SAMPLE``, default
    :data:`~exodus2045.app_under_test.settings.DEFAULT_TRACE_SAMPLE`)."""
    return min(env_float(env, ENV_TRACE_SAMPLE, DEFAULT_TRACE_SAMPLE, minimum=0.0), 1.0)


def configure(service: str, state_dir: Path | None, env: Mapping[str, str] = os.environ) -> str:
    """Install an SDK tracer provider for this process; ``"on: ..."`` or ``"off: <why>"``.

    ``state_dir`` None (a Lambda function): OTLP only, when an endpoint is set.
    """
    if env.get(ENV_TRACING, "on").strip().lower() in {"off", "0", "false", "no"}:
        return f"off: {ENV_TRACING}=off"
    otlp = any(env.get(name) for name in OTLP_ENV)
    if state_dir is None and not otlp:
        return "off: no OTLP endpoint set"
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import (
            BatchSpanProcessor,
            SpanExporter,
            SpanExportResult,
        )
    except ImportError:
        return "off: the OpenTelemetry SDK is not installed (pip install 'exodus2045[tracing]')"

    class JsonlExporter(SpanExporter):
        """Appends whole lines with one write each (O_APPEND): processes can share the file."""

        def __init__(self, path: Path) -> None:
            self.path = path
            self.lock = threading.Lock()

        def export(self, spans: Sequence[Any]) -> SpanExportResult:
            text = "".join(span_line(s) for s in spans)
            try:
                with self.lock, open(self.path, "a", encoding="utf-8") as out:
                    out.write(text)
            except OSError as exc:
                log.warning("spans not written to %s: %s", self.path, exc)
                return SpanExportResult.FAILURE
            return SpanExportResult.SUCCESS

    from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult

    class TopBitsRatio(Sampler):
        """The same decision as :func:`~exodus2045.app_under_test.tracing.sampled`, for any
        span started past the pipeline's hops (the hops never ask: a trace left out gets no
        SDK work at all)."""

        def __init__(self, ratio: float) -> None:
            self.bound = tracing.sample_bound(ratio)

        def should_sample(self, parent_context: Any, trace_id: int, name: str,
                          kind: Any = None, attributes: Any = None, links: Any = None,
                          trace_state: Any = None) -> SamplingResult:
            keep = (trace_id >> 96) < self.bound
            if not keep:
                return SamplingResult(Decision.DROP)
            return SamplingResult(Decision.RECORD_AND_SAMPLE, attributes)

        def get_description(self) -> str:
            return f"TopBitsRatio{{{self.bound / (1 << 32):.3f}}}"

    ratio = sample_ratio(env)
    provider = TracerProvider(resource=Resource.create({"service.name": service}),
                              sampler=TopBitsRatio(ratio))
    processors, where = [], []
    if state_dir is not None:
        path = Path(state_dir) / SPANS_FILE
        processors.append(BatchSpanProcessor(JsonlExporter(path), **BATCH))
        where.append(str(path))
    if otlp:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            log.warning("an OTLP endpoint is set but the OTLP exporter is not installed")
        else:
            processors.append(BatchSpanProcessor(OTLPSpanExporter(), **BATCH))
            where.append("OTLP")
    for processor in processors:
        provider.add_span_processor(processor)  # so the provider flushes and shuts them down
    trace.set_tracer_provider(provider)
    tracing.record_spans(_emitter(provider.resource, processors), ratio)
    sampled = "" if ratio >= 1.0 else f" (spans of {ratio:.0%} of wishes)"
    return "on: " + ", ".join(where) + sampled


#: A 65k run's frontend records up to ~2,000 spans a second: export each second, and hold a
#: few seconds' worth (the SDK's default queue of 2,048 drops spans in a burst).
BATCH = {"max_queue_size": 16_384, "schedule_delay_millis": 1_000}


def _emitter(resource: Any, processors: Sequence[Any]) -> tracing.Emitter:
    """A recorded hop, finished, as an SDK span handed to each processor: the hop made its
    own ids and times, so the SDK's tracer (a third of a span's cost) is never asked."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import Link, SpanContext, TraceFlags

    scope = InstrumentationScope(tracing.TRACER)
    kept = TraceFlags(TraceFlags.SAMPLED)

    def emit(hop: tracing.Hop) -> None:
        span = ReadableSpan(
            hop.name, SpanContext(hop.trace_id, hop.span_id, False, kept),
            SpanContext(hop.trace_id, hop.parent_id, True, kept), resource, hop.attributes,
            links=[Link(SpanContext(t, s, True), a) for t, s, a in hop.links],
            kind=hop.kind, start_time=hop.start_ns, end_time=hop.end_ns,
            instrumentation_scope=scope)
        for processor in processors:
            processor.on_end(span)

    return emit


def flush_spans(timeout_s: float = 5.0) -> None:
    """Export what the processors still hold (a no-op without an SDK provider)."""
    from opentelemetry import trace

    flush = getattr(trace.get_tracer_provider(), "force_flush", None)
    if flush is not None:
        flush(int(timeout_s * 1000))
