"""junit.xml: one test case per audit check, for CI systems that read JUnit reports.

Built with :mod:`xml.etree.ElementTree`, which escapes markup in text and attributes;
what it does not do is drop characters XML 1.0 forbids (a NUL or a lone surrogate that an
infiltrator sent ends up quoted in evidence), and a single one makes the whole file
unparseable for the CI. So every string passes :func:`exodus2045.reports.formats.xml_safe` first.

A CI reads a suite with no failure as green, so a verdict whose outcome the checks alone do
not show gets one more test case, ``exodus.verdict/outcome``: a failure for UNPROVEN (a core
check skipped is not a pass), skipped for PARTIAL (the run allowed it, and exits 0), an
error for INTERRUPTED and ERROR. SOUND and UNSOUND need none: the checks already say it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from exodus2045.locustfiles.outcome import ERROR, INTERRUPTED, PARTIAL, UNPROVEN
from exodus2045.reports.formats import (
    RenderContext,
    ReportFormat,
    evidence_text,
    excerpt,
    xml_safe,
)

MESSAGE_CHARS = 1000
EVIDENCE_CHARS = 64_000
CLASSNAME = "exodus.audit"
VERDICT_CLASSNAME = "exodus.verdict"
PROPERTIES = ("run_id", "seed", "outcome", "sound", "complete", "allow_partial", "schema_version")


def _clean(value: Any, limit: int) -> str:
    return excerpt(xml_safe(str(value)), limit)


class JunitReport(ReportFormat):
    name = "junit"
    filename = "junit.xml"

    def render(self, ctx: RenderContext) -> str:
        verdict = ctx.verdict
        checks = verdict.checks
        outcome_case = _outcome_case(ctx)
        statuses = [check.status for check in checks]
        extra = [outcome_case[0]] if outcome_case else []
        counts = {
            "tests": str(len(checks) + len(extra)),
            "failures": str(statuses.count("failed") + extra.count("failure")),
            "errors": str(extra.count("error")),
            "skipped": str(statuses.count("skipped") + extra.count("skipped")),
        }
        started, ended = ctx.run.get("started_at"), ctx.run.get("ended_at")
        timed = all(isinstance(v, int | float) for v in (started, ended))
        elapsed = {"time": f"{ended - started:.3f}"} if timed else {}

        root = ET.Element("testsuites", {"name": "exodus", **counts, **elapsed})
        suite = ET.SubElement(
            root, "testsuite", {"name": _clean(f"exodus.{ctx.scenario}", 200), **counts, **elapsed}
        )
        properties = ET.SubElement(suite, "properties")
        for key in PROPERTIES:
            value = getattr(verdict, key)
            if value is not None:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                ET.SubElement(properties, "property", {"name": key, "value": _clean(text, 200)})
        ET.SubElement(properties, "property", {"name": "headline", "value": verdict.headline})
        for name, value in _figures(verdict.figures):
            ET.SubElement(properties, "property", {"name": name, "value": _clean(value, 200)})
        times = _check_times(ctx.run_dir)

        for check in checks:
            case = ET.SubElement(
                suite,
                "testcase",
                {"classname": CLASSNAME, "name": _clean(check.id, 500),
                 "time": f"{times.get(check.id, 0):.3f}"},
            )
            summary = _clean(check.summary, MESSAGE_CHARS)
            if check.status == "failed":
                failure = ET.SubElement(
                    case, "failure", {"message": summary, "type": "AuditCheckFailed"}
                )
                failure.text = _clean(evidence_text(check.evidence), EVIDENCE_CHARS)
            elif check.status == "skipped":
                ET.SubElement(case, "skipped", {"message": summary or "skipped"})
        if outcome_case:
            kind, message = outcome_case
            case = ET.SubElement(
                suite, "testcase", {"classname": VERDICT_CLASSNAME, "name": "outcome", "time": "0"}
            )
            attrs = {"message": _clean(message, MESSAGE_CHARS)}
            if kind != "skipped":
                attrs["type"] = f"Verdict{verdict.headline.title()}"
            ET.SubElement(case, kind, attrs)
        ET.indent(root, space="  ")
        body = ET.tostring(root, encoding="unicode")
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _figures(figures: Any, prefix: str = "figures") -> list[tuple[str, str]]:
    """The verdict's figures flattened to ``figures.counts.stored`` = ``"197"`` properties."""
    if isinstance(figures, dict):
        return [p for k, v in sorted(figures.items()) for p in _figures(v, f"{prefix}.{k}")]
    if figures is None or isinstance(figures, list):
        return []
    return [(prefix, str(figures).lower() if isinstance(figures, bool) else str(figures))]


def _check_times(run_dir: Path) -> dict[str, float]:
    """Seconds each check took to judge, as the run measured them (``check-times.json``);
    a folder without them (crafted, or older) reports 0."""
    try:
        data = json.loads((run_dir / "check-times.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)} \
        if isinstance(data, dict) else {}


def _outcome_case(ctx: RenderContext) -> tuple[str, str] | None:
    """(element, message) of the ``exodus.verdict/outcome`` case, or None when not needed."""
    verdict = ctx.verdict
    message = f"{verdict.headline}: {verdict.reason()}"
    if verdict.outcome in (INTERRUPTED, ERROR):
        return "error", message
    if verdict.outcome == UNPROVEN:
        return ("skipped" if verdict.headline == PARTIAL else "failure"), message
    return None


FORMAT = JunitReport()
