"""Spans say which fault was on: ``exodus.fault`` on every span a component starts while a
fault targets it.

The pipeline's spans are the hops (``app_under_test/tracing.py``) and the pipeline knows
nothing of chaos, so the attribute is added from outside, the OpenTelemetry way: a span
processor that chaos installs on the process's tracer provider next to the exporters. Its
``on_start`` runs before the span ends, so the exported span carries the attribute. A hop
span in a parser or pod worker starts when its hop is done (its start time is back-dated),
so the fault recorded is the one on while that hop ran to its end; the frontend's accept
span starts as the request arrives. Only recorded spans reach a processor: head sampling's
left-out wishes pay nothing here either.

Value: ``"<fault> <target>"`` (``"latency pod-worker/store.put"``), several joined by
``", "``. Without the SDK (no provider to add to) this does nothing and says so.
"""

from __future__ import annotations

from typing import Any

from exodus2045.chaos.injector import Injector

ATTRIBUTE = "exodus.fault"


def mark_faulted_spans(injector: Injector) -> bool:
    """Add the processor to this process's SDK provider; False when there is none."""
    from opentelemetry import trace

    add = getattr(trace.get_tracer_provider(), "add_span_processor", None)
    if add is None:
        return False
    from opentelemetry.sdk.trace import SpanProcessor

    class FaultSpanProcessor(SpanProcessor):
        def on_start(self, span: Any, parent_context: Any = None) -> None:
            faults = injector.active_here()
            if faults:
                span.set_attribute(ATTRIBUTE, ", ".join(faults))

    add(FaultSpanProcessor())
    return True
