"""summary.md: the verdict as a GitHub Actions step summary (``$GITHUB_STEP_SUMMARY``).

GitHub renders HTML inside Markdown, turns bare URLs into links and splits table rows on
``|``, and a step summary is capped at 1 MiB. So this file is compact (verdict line, checks
table, key figures, top five failure modes) and every value from the run goes through
:func:`md`, which turns the characters that could open a tag, a link, a code span or a new
cell into numeric character references: the reader sees the text, GitHub renders nothing.
"""

from __future__ import annotations

import re
from typing import Any

from exodus2045.reports.clocks import clock_rows
from exodus2045.reports.formats import (
    RenderContext,
    ReportFormat,
    evidence_text,
    excerpt,
    figure_name,
    flatten_figures,
    format_value,
    ranked_failure_modes,
    xml_safe,
)
from exodus2045.reports.headline import headline

#: Stay well under GitHub's 1 MiB step-summary cap, with room for the tail lines.
BUDGET_BYTES = 900_000
SUMMARY_CHARS = 300
EVIDENCE_CHARS = 120
ID_CHARS = 120
TOP_FAILURE_MODES = 5
KEY_FIGURES = 24
ICON = {"passed": "✅ PASS", "failed": "❌ FAIL", "skipped": "⏭️ SKIP"}
HEADLINE_ICON = {"SOUND": "✅", "UNSOUND": "❌", "UNPROVEN": "⚠️", "PARTIAL": "⚠️",
                 "INTERRUPTED": "⏹️", "ERROR": "❌"}

_REFS = {
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "`": "&#96;", "|": "&#124;", "[": "&#91;",
    "]": "&#93;", "\\": "&#92;", "*": "&#42;", "~": "&#126;", "@": "&#64;",
}
_SPECIAL = re.compile("[" + re.escape("".join(_REFS)) + "]")
_LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x85\u2028\u2029]")
_WWW = re.compile(r"(?i)(www)\.")
_SCHEME = re.compile(r":(?=\S)")


def md(value: Any, limit: int | None = None) -> str:
    """Run data as inert Markdown text, safe inside a table cell.

    Cut first (so an entity is never split), then: line breaks become spaces (a newline
    would end the table row), characters XML forbids go, and every character Markdown or
    HTML gives a meaning becomes a character reference. ``@``, ``www.`` and a ``:`` glued
    to what follows (``https://``, ``javascript:``) are encoded too, which defeats GitHub's
    autolinks for URLs and e-mail while ``key: value`` stays readable.
    """
    text = xml_safe(str(value))
    text = _LINE_BREAKS.sub(" ", text)
    if limit is not None:
        text = excerpt(text, limit)
    text = _SPECIAL.sub(lambda m: _REFS[m.group(0)], text)
    return _SCHEME.sub("&#58;", _WWW.sub(r"\1&#46;", text))


class MarkdownSummary(ReportFormat):
    name = "markdown"
    filename = "summary.md"

    def render(self, ctx: RenderContext) -> str:
        lines = self._head(ctx)
        lines += self._checks(ctx, BUDGET_BYTES - sum(len(line.encode()) + 1 for line in lines))
        lines += self._figures(ctx)
        lines += self._failure_modes(ctx)
        lines += ["", "Full report: report.html in the run folder (charts, evidence, timeline)."]
        return "\n".join(lines) + "\n"

    def _head(self, ctx: RenderContext) -> list[str]:
        verdict = ctx.verdict
        word = verdict.headline
        icon = HEADLINE_ICON.get(word, "❌")
        run_id = verdict.run_id or ctx.run.get("run_id") or "–"
        seed = verdict.seed if verdict.seed is not None else ctx.run.get("seed")
        lines = [
            f"## Exodus 2045: {md(ctx.scenario, ID_CHARS)}",
            "",
            f"**Verdict: {icon} {word}** — {ctx.tally}",
        ]
        if verdict.reason():
            lines += ["", md(verdict.reason(), SUMMARY_CHARS)]
        lines += [""]
        lines += [f"- **{md(k)}:** {md(v, 600)}" for k, v in headline(ctx)[1:]]
        lines += ["", f"Run {md(run_id, ID_CHARS)}, seed {md(seed if seed is not None else '–')}"]
        lines += [f"- {md(k, ID_CHARS)}: {md(v)}" for k, v in clock_rows(ctx.clocks)]
        cost = (verdict.figures or {}).get("aws_cost")
        if isinstance(cost, dict) and isinstance(cost.get("total_usd"), (int, float)):
            lines += ["", f"What this exodus would cost on AWS: ${cost['total_usd']:.4f} "
                          f"({md(cost.get('region'))} on-demand prices of "
                          f"{md(cost.get('prices_as_of'))}; reports/costs.py)"]
        return lines

    def _checks(self, ctx: RenderContext, budget: int) -> list[str]:
        lines = ["", "| status | check | summary | evidence |", "|---|---|---|---|"]
        used = sum(len(line.encode()) + 1 for line in lines)
        checks = ctx.checks
        for index, check in enumerate(checks):
            row = (
                f"| {ICON[check.status]} | {md(check.id, ID_CHARS)} "
                f"| {md(check.summary, SUMMARY_CHARS)} "
                f"| {md(evidence_text(check.evidence), EVIDENCE_CHARS)} |"
            )
            used += len(row.encode()) + 1
            if used > budget:
                lines.append(f"| … | {len(checks) - index} more checks in report.html | | |")
                break
            lines.append(row)
        if not checks:
            lines.append("| – | no checks | | |")
        return lines

    def _figures(self, ctx: RenderContext) -> list[str]:
        # Compact: a figure the run could not see (None, shown as "–") is left to report.html.
        rows = [(k, v) for k, v in flatten_figures(ctx.verdict.figures) if v != "–"]
        if not rows:
            return []
        lines = ["", "### Key figures", "", "| figure | value |", "|---|---:|"]
        lines += [f"| {md(figure_name(k), ID_CHARS)} | {md(v, ID_CHARS)} |"
                  for k, v in rows[:KEY_FIGURES]]
        if len(rows) > KEY_FIGURES:
            lines.append(f"| … | {len(rows) - KEY_FIGURES} more in report.html |")
        return lines

    def _failure_modes(self, ctx: RenderContext) -> list[str]:
        lines = ["", f"### Top {TOP_FAILURE_MODES} failure modes (by RPN)", ""]
        if ctx.failure_modes is None:
            return [*lines, "No failure modes computed."]
        modes = ranked_failure_modes(ctx.failure_modes)[:TOP_FAILURE_MODES]
        if not modes:
            return [*lines, "No failure modes: nothing went wrong."]
        lines += ["| # | mode | check | RPN | S | O | D | cause |", "|---:|---|---|---:|---:|---:|---:|---|"]
        for rank, mode in enumerate(modes, 1):
            cells = [mode.get(k) for k in ("rpn", "severity", "occurrence", "detection")]
            lines.append(
                f"| {rank} | {md(format_value(mode.get('mode')), ID_CHARS)} "
                f"| {md(format_value(mode.get('check')), ID_CHARS)} | "
                + " | ".join(md(format_value(c)) for c in cells)
                + f" | {md(format_value(mode.get('cause')), SUMMARY_CHARS)} |"
            )
        return lines


FORMAT = MarkdownSummary()
