"""Spans say which fault was on: ``exodus.fault`` on every span a component starts while a
fault targets it.

The pipeline's spans are the hops (``app_under_test/tracing.py``) and the pipeline knows
nothing of chaos, so the attribute comes through the pipeline's hook for it
(``tracing.annotate_spans``), asked as a recorded hop starts. A hop in a parser or pod
worker starts when it is done (its start time is back-dated), so the fault recorded is the
one on while that hop ran to its end; the frontend's accept starts as the request arrives.
Only recorded hops ask: head sampling's left-out wishes pay nothing here either.

Value: ``"<fault> <target>"`` (``"latency pod-worker/store.put"``), several joined by
``", "``. A process that records no spans (no SDK, tracing off) is left alone.
"""

from __future__ import annotations

from exodus2045.app_under_test import tracing
from exodus2045.chaos.injector import Injector

ATTRIBUTE = "exodus.fault"


def mark_faulted_spans(injector: Injector) -> bool:
    """Annotate this process's recorded hops; False when it records none (no SDK, off)."""
    if not tracing.recording():
        return False

    def faults_on() -> dict[str, str]:
        faults = injector.active_here()
        return {ATTRIBUTE: ", ".join(faults)} if faults else {}

    tracing.annotate_spans(faults_on)
    return True
