"""The headline a person reads first: the same few lines at the top of every report.

Verdict, wishes sent / acknowledged / stored, throughput, response and end-to-end p95, each
fault with its recovery time, and where the time went. Built once from the render context so
report.html and summary.md cannot disagree; values rounded to what a reader needs (the raw
numbers stay in verdict.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exodus2045.reports.formats import RenderContext
from exodus2045.reports.hops import seconds


def _get(figures: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(figures, Mapping):
            return None
        figures = figures.get(key)
    return figures


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "–"


def _ms(value: Any) -> str:
    return seconds(value / 1000.0) if isinstance(value, (int, float)) else "–"


def _s(value: Any) -> str:
    return seconds(float(value)) if isinstance(value, (int, float)) else "–"


def headline(ctx: RenderContext) -> list[tuple[str, str]]:
    """``(label, text)`` rows, in reading order."""
    f = ctx.verdict.figures
    sent = _get(f, "counts", "evacuees")
    sent = sent if sent is not None else _get(f, "counts", "sent")
    rows = [
        ("verdict", f"{ctx.verdict.headline} ({ctx.tally})"),
        ("wishes", f"{_count(sent)} sent · "
                   f"{_count(_get(f, 'counts', 'acknowledged'))} acknowledged · "
                   f"{_count(_get(f, 'counts', 'stored'))} stored"),
    ]
    rate = _get(f, "throughput")
    rate = _get(rate, "acknowledged_per_s") if isinstance(rate, Mapping) else rate
    rows.append(("throughput", f"{rate:,.1f} wishes/s acknowledged"
                 if isinstance(rate, (int, float)) else "–"))
    rows.append(("response time p95", f"{_ms(_get(f, 'response_ms', 'p95'))} "
                 f"(end to end, accepted to stored: {_s(_get(f, 'e2e_s', 'p95'))})"))
    faults = []
    for check in ctx.checks:
        if not check.id.startswith("recovery:"):
            continue
        ev = check.evidence if isinstance(check.evidence, Mapping) else {}
        fault, _, target = check.id[len("recovery:"):].rpartition("@")[0].partition(":")
        name = f"{ev.get('fault') or fault or '?'} {ev.get('target') or target or '?'}"
        took = ev.get("recovery_s")
        if check.status == "passed":
            faults.append(f"{name}: recovered in {_s(took)}" if isinstance(took, (int, float))
                          else f"{name}: recovered")
        else:
            faults.append(f"{name}: {check.status} ({check.summary})")
    rows.append(("faults", "; ".join(faults) if faults else "none injected"))
    if ctx.hops is not None:
        spans = (" (tracing was off: no spans)" if ctx.tracing != "on" else
                 f" (spans of {ctx.trace_sample:.0%} of wishes, head-sampled; hop times for "
                 "every wish)" if ctx.trace_sample < 1 else "")
        rows.append(("where the time went", ctx.hops.where() + spans))
    return rows
