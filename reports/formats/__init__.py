"""The report formats of a run: one interface, one module per format (pip-audit style).

A format is a class with a ``name`` (what a user types), a ``filename`` (what it writes in
the run folder) and ``render(ctx) -> str``. Every format reads the same
:class:`RenderContext`, built once per folder by :mod:`exodus2045.reports.render`, so the HTML, the
Markdown and the JUnit file cannot disagree about what a run did. Adding a format is adding
a module here and one line in :data:`FORMAT_MODULES`.

The text helpers below (evidence flattening, excerpts, figure flattening) live here because
every format needs the *same* words for the same evidence; each format then escapes those
words for its own context (HTML, Markdown, XML), which is the only part that differs.
"""

from __future__ import annotations

import importlib
import json as jsonlib  # a bare `json` would be shadowed by .json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.verdict import CheckResult, Verdict

if TYPE_CHECKING:
    from exodus2045.reports.around import AroundFault
    from exodus2045.reports.hops import HopBreakdown

#: Modules of :mod:`exodus2045.reports.formats`, in the order ``render_all`` writes them. verdict.json
#: goes last so a half-written report never sits next to a fresh verdict.
FORMAT_MODULES: tuple[str, ...] = ("html", "markdown", "junit", "json")


class UnknownFormat(ExodusError):
    """A report format was asked for by a name no module registers."""


Point = tuple[float, float]


@dataclass(frozen=True)
class Window:
    """A fault window from timeline.jsonl, in seconds since run start.

    ``end`` is None for an ``on`` that never got its ``off`` (a single kill, or a run cut
    short): charts draw it as a marker rather than guess how long it lasted.
    """

    start: float
    end: float | None
    label: str


@dataclass(frozen=True)
class RunSeries:
    """Everything the charts plot, derived once from the ledger, store snapshot and metrics.

    Times are seconds since run start (run.json ``started_at``), the same clock as
    timeline.jsonl ``t``, so fault windows line up with the curves they explain.
    """

    bucket_s: float = 1.0
    span_s: float = 0.0
    arrivals: list[Point] = field(default_factory=list)
    acks: list[Point] = field(default_factory=list)
    latency_p50: list[Point] = field(default_factory=list)
    latency_p95: list[Point] = field(default_factory=list)
    response_p50: list[Point] = field(default_factory=list)
    response_p95: list[Point] = field(default_factory=list)
    e2e_p50: list[Point] = field(default_factory=list)
    e2e_p95: list[Point] = field(default_factory=list)
    queue_depths: dict[str, list[Point]] = field(default_factory=dict)
    destinations: dict[str, dict[str, float]] = field(default_factory=dict)
    windows: list[Window] = field(default_factory=list)


@dataclass(frozen=True)
class RenderContext:
    """What a run folder says, loaded once: the verdict plus the evidence the charts need.

    ``verdict`` is the model (:class:`exodus2045.reports.verdict.Verdict`), never the raw file:
    every format reads its outcome, headline and checks from there. ``failure_modes`` is None when no FMEA could be computed (the module is absent), which
    the formats say in words instead of showing an empty table that looks like "no risk".
    ``files`` lists the run-folder files that exist, relative, for links.
    """

    run_dir: Path
    verdict: Verdict
    run: dict[str, Any]
    series: RunSeries
    metrics: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    failure_modes: list[dict[str, Any]] | None
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Where the time went, per hop (:mod:`exodus2045.reports.hops`); None: not computed.
    hops: HopBreakdown | None = None
    #: Whether spans were recorded (spans.jsonl in the folder): "on" or "off".
    tracing: str = "off"
    trace_sample: float = 1.0  # the share of wishes whose spans were kept (head sampling)
    #: Per fault window, the process events and log lines within +-3 s (reports/around.py).
    around: list[AroundFault] = field(default_factory=list)

    @property
    def scenario(self) -> str:
        """The scenario name, from the verdict first (it is the contract), then run.json."""
        name = self.verdict.scenario
        if not name:
            scenario = self.run.get("scenario")
            name = scenario.get("name") if isinstance(scenario, Mapping) else scenario
        return str(name or "unnamed")

    @property
    def description(self) -> str:
        scenario = self.run.get("scenario")
        return str(scenario.get("description") or "") if isinstance(scenario, Mapping) else ""

    @property
    def checks(self) -> tuple[CheckResult, ...]:
        return self.verdict.checks

    @property
    def tally(self) -> str:
        """``3 passed, 1 failed, 0 skipped``: the same words in every format."""
        return ", ".join(f"{n} {status}" for status, n in self.verdict.counts().items())


class ReportFormat(ABC):
    """One output format: a name, the file it writes, and a pure ``render``.

    ``render`` must be deterministic (no clock, no randomness, sorted keys) so the golden
    tests can compare its output byte for byte.
    """

    name: str
    filename: str

    @abstractmethod
    def render(self, ctx: RenderContext) -> str:
        """Return the whole file as text."""


def all_formats() -> list[ReportFormat]:
    """One instance of every registered format, in writing order.

    Imported lazily so ``exodus2045.reports.formats.json`` and friends can import this module for
    the interface without an import cycle.
    """
    found = []
    for module_name in FORMAT_MODULES:
        module = importlib.import_module(f"{__name__}.{module_name}")
        found.append(module.FORMAT)
    return found


def get_format(name: str) -> ReportFormat:
    for fmt in all_formats():
        if fmt.name == name:
            return fmt
    known = ", ".join(f.name for f in all_formats())
    raise UnknownFormat(f"unknown report format {name!r}; known formats: {known}")


# -- shared words -------------------------------------------------------------------------


def evidence_text(evidence: Any) -> str:
    """Evidence as one deterministic line a person can read.

    The audit's evidence is a JSON object of capped lists and counts
    (``{"missing": [...], "missing_total": 3}``): shown as ``missing: a, b; missing_total:
    3``, keys sorted. Anything deeper stays compact JSON, so nothing is ever dropped.
    """
    if evidence is None:
        return ""
    if isinstance(evidence, Mapping):
        return "; ".join(f"{key}: {_evidence_value(evidence[key])}" for key in sorted(evidence))
    return _evidence_value(evidence)


def _rounded(value: Any) -> Any:
    """Floats to at most 3 decimals, all the way down: a reader needs 2.227, not
    2.2269999999999994 (verdict.json keeps the raw value)."""
    if isinstance(value, float) and math.isfinite(value):
        return round(value, 3)
    if isinstance(value, Mapping):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def _evidence_value(value: Any) -> str:
    value = _rounded(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple | Mapping) and not value:
        return "none"
    if isinstance(value, list | tuple) and all(
        isinstance(item, str | int | float) and not isinstance(item, bool) for item in value
    ):
        return ", ".join(str(item) for item in value)
    return jsonlib.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def excerpt(text: str, limit: int) -> str:
    """At most ``limit`` characters; a cut says so with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def format_value(value: Any) -> str:
    """A figure as text: floats to at most 3 decimals, so goldens do not churn on noise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:,.3f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    if value is None:
        return "–"
    if isinstance(value, str):
        return value
    return jsonlib.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


#: The figures a reader looks for, by the words a reader uses (the dotted key stays in
#: verdict.json and as the fallback for any figure not named here).
FIGURE_NAMES = {
    "counts.evacuees": "evacuees sent", "counts.attempts": "HTTP attempts",
    "counts.acknowledged": "wishes acknowledged (202)", "counts.stored": "wishes stored",
    "counts.rejected": "rejected (as expected)", "counts.dead_letters": "dead letters",
    "counts.dropped": "evacuees dropped", "counts.late": "evacuees sent late",
    "counts.audience": "audience wishes", "throughput": "throughput (acknowledged/s)",
    "swarm_s": "swarm duration (s)",
    "response_ms.p50": "response time p50 (ms)", "response_ms.p95": "response time p95 (ms)",
    "response_ms.p99": "response time p99 (ms)", "service_ms.p50": "service time p50 (ms)",
    "service_ms.p95": "service time p95 (ms)", "service_ms.p99": "service time p99 (ms)",
    "e2e_s.p50": "end to end p50 (s)", "e2e_s.p95": "end to end p95 (s)",
    "e2e_s.p99": "end to end p99 (s)",
}


def figure_name(key: str) -> str:
    return FIGURE_NAMES.get(key, key)


def flatten_figures(figures: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Nested figures as (dotted key, text) rows, keys sorted, for tables of any format."""
    if not isinstance(figures, Mapping):
        if prefix:
            yield prefix, format_value(figures)
        return
    for key in sorted(figures, key=str):
        value = figures[key]
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            yield from flatten_figures(value, name)
        else:
            yield name, format_value(value)


_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Drop what XML 1.0 forbids (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/FFFF).

    junit.xml must parse, and the HTML report's inline SVG is XML-shaped: one rule for both.
    """
    return _XML_FORBIDDEN.sub("", text)


def ranked_failure_modes(modes: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Highest RPN first; ties broken by mode then check so the order never flickers."""

    def rpn(mode: Mapping[str, Any]) -> float:
        value = mode.get("rpn")
        return float(value) if isinstance(value, int | float) else 0.0

    return sorted(modes or [], key=lambda m: (-rpn(m), str(m.get("mode")), str(m.get("check"))))
