"""report.html: one self-contained page a human reads after a run.

Self-contained means no script at all, no web font, no remote image: CSS sits in one
``<style>`` element, charts are inline SVG, and a Content-Security-Policy meta element
(``default-src 'none'``) would stop anything that slipped through anyway. The run is hostile
input (infiltrators send XSS on purpose, and evidence quotes what they sent), so every value
from the run passes :func:`esc` for HTML text and attributes, and links are built only by
:func:`href` from run-folder file names: relative, percent-encoded, never a scheme.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from exodus2045.reports import charts, hop_charts
from exodus2045.reports.around import describe
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
from exodus2045.reports.hops import HOP_NAMES, HOPS, SHORT_NAMES, seconds

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
EXCERPT_CHARS = 200
EVIDENCE_CHARS = 4000
NUM = ' class="num"'
OUR_OUTPUTS = ("verdict.json", "summary.md", "junit.xml")
STYLE = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;
max-width:1100px;padding:1rem 1.5rem;color:#1a202c;background:#fff}
h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.2rem;margin-top:2rem;
border-bottom:1px solid #e2e8f0}
.verdict{display:inline-block;padding:.3rem .9rem;border-radius:4px;font-weight:700;
letter-spacing:.05em;color:#fff}.verdict.sound{background:#2f855a}
.verdict.unsound{background:#c53030}.verdict.interrupted{background:#b7791f}
.verdict.unproven,.verdict.partial{background:#c05621}.verdict.error{background:#742a2a}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border:1px solid #e2e8f0;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f7fafc}td.num{text-align:right;font-variant-numeric:tabular-nums}
.passed{color:#2f855a;font-weight:700}.failed{color:#c53030;font-weight:700}
.skipped{color:#718096;font-weight:700}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85em}
pre{white-space:pre-wrap;word-break:break-all;background:#f7fafc;padding:.5rem;margin:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{font-weight:600}
dd{margin:0;word-break:break-word}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem}
figure.chart{margin:0;border:1px solid #e2e8f0;padding:.3rem}
figure.chart svg{width:100%;height:auto}
figure.chart figcaption{font-weight:600;font-size:.9rem}
svg text{font:11px system-ui,sans-serif;fill:#2d3748}svg .grid{stroke:#edf2f7}
svg .axis{stroke:#a0aec0}svg polyline{stroke-width:1.6}
svg .fault{fill:#e53e3e;fill-opacity:.12}
svg .fault-mark{stroke:#e53e3e;stroke-dasharray:4 3}
svg .fault-label{fill:#c53030;font-size:10px}svg .empty{fill:#a0aec0;font-size:14px}
.muted{color:#718096}
"""


def esc(value: Any) -> str:
    """Escape for HTML text *and* quoted attributes; drop characters HTML/XML forbid."""
    return html.escape(xml_safe(str(value)), quote=True)


def href(relative: str) -> str | None:
    """A link to a file in the run folder, or None if the name could leave the folder.

    Only relative paths without a scheme, a leading slash or ``..``; percent-encoded so a
    quote, a space or a colon in a name can never become markup or a ``javascript:`` URL.
    """
    parts = relative.split("/")
    if not relative or relative.startswith("/") or ":" in relative or "\\" in relative:
        return None
    if any(part in ("", ".", "..") for part in parts):
        return None
    return quote(relative, safe="/")


def _utc(epoch: Any) -> str:
    if isinstance(epoch, int | float) and not isinstance(epoch, bool):
        return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "–"


class HtmlReport(ReportFormat):
    name = "html"
    filename = "report.html"

    def render(self, ctx: RenderContext) -> str:
        title = f"Exodus 2045 — {ctx.scenario}"
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{esc(title)}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<header><h1>{esc(title)}</h1>{self._banner(ctx)}</header>",
            self._headline(ctx),
            self._charts(ctx),
            self._where(ctx),
            self._checks(ctx),
            self._failure_modes(ctx),
            self._figures(ctx),
            self._meta(ctx),
            self._timeline(ctx),
            self._around(ctx),
            self._files(ctx),
            "</body></html>",
        ]
        return "\n".join(part for part in parts if part) + "\n"

    def _banner(self, ctx: RenderContext) -> str:
        word = ctx.verdict.headline
        banner = f'<p><span class="verdict {esc(word.lower())}">{esc(word)}</span>'
        reason = ctx.verdict.reason()
        if reason:
            banner += f' <span class="muted">{esc(reason)}</span>'
        return banner + "</p>"

    def _headline(self, ctx: RenderContext) -> str:
        items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in headline(ctx))
        return f'<section class="headline"><h2>Headline</h2><dl>{items}</dl></section>'

    def _meta(self, ctx: RenderContext) -> str:
        run, verdict = ctx.run, ctx.verdict
        scenario = run.get("scenario") if isinstance(run.get("scenario"), dict) else {}
        stack = scenario.get("stack") if isinstance(scenario.get("stack"), dict) else {}
        flaws = run.get("flaws") or stack.get("flaws") or []
        started, ended = run.get("started_at"), run.get("ended_at")
        timed = all(isinstance(v, int | float) for v in (started, ended))
        seed = verdict.seed if verdict.seed is not None else run.get("seed")
        rows = [
            ("run id", verdict.run_id or run.get("run_id") or "–"),
            ("scenario", ctx.scenario),
            ("description", ctx.description or "–"),
            ("seed", seed),
            ("target", run.get("target") or "–"),
            ("started", _utc(started)),
            ("duration", f"{ended - started:.1f} s" if timed else "–"),
            ("flaws", ", ".join(map(str, flaws)) if isinstance(flaws, list) and flaws else "none"),
        ]
        items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
        return f"<h2>Run</h2><dl>{items}</dl>"

    def _checks(self, ctx: RenderContext) -> str:
        rows = []
        for check in ctx.checks:
            status = check.status
            evidence = evidence_text(check.evidence)
            cell = f"<code>{esc(excerpt(evidence, EXCERPT_CHARS))}</code>" if evidence else ""
            if len(evidence) > EXCERPT_CHARS:
                cell += (
                    "<details><summary>all evidence</summary>"
                    f"<pre>{esc(excerpt(evidence, EVIDENCE_CHARS))}</pre></details>"
                )
            anchor = _fault_anchor(ctx, check.id) if status == "failed" else None
            if anchor:
                cell += f' <a href="#{esc(anchor)}">events and logs ±3 s</a>'
            rows.append(
                f'<tr><td class="{status}">{status.upper()}</td>'
                f"<td><code>{esc(check.id)}</code></td>"
                f"<td>{esc(check.summary)}</td><td>{cell}</td></tr>"
            )
        head = "<tr><th>status</th><th>check</th><th>summary</th><th>evidence</th></tr>"
        body = "".join(rows) or '<tr><td colspan="4" class="muted">no checks</td></tr>'
        return f"<h2>Checks</h2><p>{esc(ctx.tally)}</p><table>{head}{body}</table>"

    def _failure_modes(self, ctx: RenderContext) -> str:
        heading = "<h2>Failure modes (FMEA, ranked by RPN)</h2>"
        if ctx.failure_modes is None:
            return heading + '<p class="muted">No failure modes computed.</p>'
        modes = ranked_failure_modes(ctx.failure_modes)
        if not modes:
            return heading + "<p>No failure modes: nothing went wrong.</p>"
        cols = ("mode", "check", "severity", "occurrence", "detection", "rpn",
                "evidence_count", "cause")
        numeric = {"severity", "occurrence", "detection", "rpn", "evidence_count"}
        head = "<tr><th>#</th>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"
        rows = []
        for rank, mode in enumerate(modes, 1):
            cells = []
            for c in cols:
                cell = esc(format_value(mode.get(c)))
                anchor = _fault_anchor(ctx, str(mode.get("check", ""))) if c == "mode" else None
                if anchor:  # a fault's row: what the components said and did around it
                    cell += f' <a href="#{esc(anchor)}">events and logs ±3 s</a>'
                cells.append(f"<td{NUM if c in numeric else ''}>{cell}</td>")
            rows.append(f'<tr><td class="num">{rank}</td>{"".join(cells)}</tr>')
        return f"{heading}<table>{head}{''.join(rows)}</table>"

    def _figures(self, ctx: RenderContext) -> str:
        rows = "".join(
            f'<tr><td title="{esc(k)}">{esc(figure_name(k))}</td><td class="num">{esc(v)}</td></tr>'
            for k, v in flatten_figures(ctx.verdict.figures)
        )
        body = rows or '<tr><td colspan="2" class="muted">no figures</td></tr>'
        return f"<h2>Figures</h2><table><tr><th>figure</th><th>value</th></tr>{body}</table>"

    def _charts(self, ctx: RenderContext) -> str:
        s = ctx.series
        common = {"x_max": s.span_s, "windows": s.windows}
        bucket = f"{s.bucket_s:g} s buckets"
        figures = [
            charts.line_chart(
                f"Arrivals (intended) and acknowledgements per second ({bucket})",
                {"arrivals": s.arrivals, "acknowledged": s.acks},
                y_label="per second", **common,
            ),
            charts.line_chart(
                "Service time (latency_ms): p50 and p95",
                {"p50": s.latency_p50, "p95": s.latency_p95}, y_label="ms", **common,
            ),
            charts.line_chart(
                "Response time from intended start (response_ms): p50 and p95",
                {"p50": s.response_p50, "p95": s.response_p95}, y_label="ms", **common,
            ),
            charts.line_chart(
                "End-to-end latency (stored_at − accepted_at) by store time",
                {"p50": s.e2e_p50, "p95": s.e2e_p95}, y_label="seconds", **common,
            ),
            charts.line_chart(
                "Queue depths (visible + in flight)", s.queue_depths,
                y_label="messages", **common,
            ),
            charts.bar_chart("Mars vs Jupiter", s.destinations, y_label="wishes"),
        ]
        note = "Shaded: fault windows from timeline.jsonl; dashed: a fault with no off."
        return (
            f'<h2>Charts</h2><p class="muted">{esc(note)}</p>'
            f'<div class="charts">{"".join(figures)}</div>'
        )

    def _where(self, ctx: RenderContext) -> str:
        """Where the time went: per-hop percentiles, per fault window, over time, slowest."""
        hops = ctx.hops
        head = "<h2>Where the time went</h2>"
        if hops is None:
            return ""
        tracing = ("Spans: tracing was off (hop times come from the stored wishes)."
                   if ctx.tracing != "on" else "Spans: recorded (spans.jsonl)." if
                   ctx.trace_sample >= 1 else f"Spans: recorded for {ctx.trace_sample:.0%} of "
                   "wishes (head-sampled by trace id, so a kept trace is whole; spans.jsonl). "
                   "The hop times above are every wish's.")
        if not hops.wishes:
            return f'{head}<p>{esc(hops.where())}</p><p class="muted">{esc(tracing)}</p>'
        cols = "".join(f"<th>{p}</th>" for p in ("p50", "p95", "p99"))
        rows = "".join(
            f"<tr><td>{esc(HOP_NAMES[h])}</td>"
            + "".join(f'<td class="num">{esc(seconds(hops.overall[h].get(p)))}</td>'
                      for p in ("p50", "p95", "p99"))
            + "</tr>" for h in HOPS
        )
        table = f"<table><tr><th>hop</th>{cols}</tr>{rows}</table>"
        faults = ""
        if hops.windows:
            frows = "".join(
                f"<tr><td>{esc(w.label)}</td><td class=\"num\">{w.wishes}</td>"
                f"<td>{esc(HOP_NAMES[w.moved]) if w.moved else '–'}</td>"
                f'<td class="num">{esc(seconds(w.moved_by_s, signed=True))}</td>'
                + "".join(f'<td class="num">{esc(seconds(w.hops.get(h, {}).get("p95")))}</td>'
                          for h in HOPS) + "</tr>"
                for w in hops.windows
            )
            hcols = "".join(f"<th>{esc(SHORT_NAMES[h])} p95</th>" for h in HOPS)
            faults = (
                "<h3>Per fault window</h3><p class=\"muted\">Wishes whose journey overlapped "
                "the window; the hop whose median grew most over the other wishes' median.</p>"
                f"<table><tr><th>fault</th><th>wishes</th><th>moved most</th><th>by</th>"
                f"{hcols}</tr>{frows}</table>"
            )
        common = {"x_max": ctx.series.span_s, "windows": ctx.series.windows}
        figures = [
            hop_charts.stacked_hops(
                f"Median time per hop, stacked, by arrival ({ctx.series.bucket_s:g} s buckets)",
                hops.over_time, **common),
            hop_charts.waterfall(f"The {len(hops.slowest)} slowest wishes, hop by hop",
                                 hops.slowest),
        ]
        return (
            f"{head}<p>{esc(hops.where())}</p>"
            f'<p class="muted">{esc(f"{hops.wishes} of {hops.stored} stored wishes carry all hop times. ")}'
            f"{esc(tracing)}</p>{table}{faults}"
            f'<div class="charts">{"".join(figures)}</div>'
        )

    def _timeline(self, ctx: RenderContext) -> str:
        if not ctx.timeline:
            return '<h2>Timeline</h2><p class="muted">No fault was injected.</p>'
        cols = ("t", "event", "fault", "target", "source")
        head = "".join(f"<th>{c}</th>" for c in cols) + "<th>params</th>"
        rows = []
        for event in ctx.timeline:
            cells = "".join(f"<td>{esc(format_value(event.get(c)))}</td>" for c in cols)
            params = json.dumps(event.get("params"), sort_keys=True, ensure_ascii=False,
                                default=str)
            rows.append(f"<tr>{cells}<td><code>{esc(params)}</code></td></tr>")
        return f"<h2>Timeline</h2><table><tr>{head}</tr>{''.join(rows)}</table>"

    def _around(self, ctx: RenderContext) -> str:
        """Per fault window: process events and log lines within +-3 s of its edges."""
        if not ctx.around:
            return ""
        parts = ['<h2>Around each fault (±3 s)</h2>']
        for near in ctx.around:
            end = "–" if near.end is None else f"{near.end:.1f}"
            parts.append(f'<h3 id="{esc(f"fault-{near.index}")}">{esc(near.label)} '
                         f'<span class="muted">{near.start:.1f} s → {esc(end)} s</span></h3>')
            if near.events:
                rows = "".join(
                    f'<tr><td class="num">{esc(format_value(e.get("t")))}</td>'
                    f"<td>{esc(e.get('component', '?'))}</td><td>{esc(describe(e))}</td></tr>"
                    for e in near.events
                )
                parts.append("<table><tr><th>t (s)</th><th>component</th><th>event</th></tr>"
                             f"{rows}</table>")
            else:
                parts.append('<p class="muted">No process events (events.jsonl) near it.</p>')
            for component, lines in near.lines.items():
                text = "\n".join(f"{line.t:8.3f}  {line.text}" for line in lines)
                parts.append(f"<details><summary>{esc(component)}: {len(lines)} log "
                             f"line{'' if len(lines) == 1 else 's'}"
                             f"</summary><pre>{esc(excerpt(text, EVIDENCE_CHARS))}</pre>"
                             "</details>")
        return "".join(parts)

    def _files(self, ctx: RenderContext) -> str:
        items = []
        for name in [*OUR_OUTPUTS, *ctx.files]:
            link = href(name)
            if link is not None:
                items.append(f'<li><a href="{esc(link)}">{esc(name)}</a></li>')
        pages = sorted(
            p.name for p in (ctx.run_dir / "pages").glob("*.html") if p.is_file()
        ) if (ctx.run_dir / "pages").is_dir() else []
        if pages:
            items.append(
                "<li>pages judged by the oracle (not linked: they may hold live payloads): "
                + ", ".join(f"<code>pages/{esc(p)}</code>" for p in pages) + "</li>"
            )
        notes = "".join(f"<li>{esc(n)}</li>" for n in ctx.notes)
        notes_html = f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""
        return f"{notes_html}<h2>Files in this run folder</h2><ul>{''.join(items)}</ul>"


def _fault_anchor(ctx: RenderContext, check_id: str) -> str | None:
    """``fault-N`` for a recovery check (``recovery:<fault>:<target>@<at>``) whose window has
    an "around" section; None for any other check (they are not tied to one moment)."""
    if not check_id.startswith("recovery:"):
        return None
    fault, _, rest = check_id[len("recovery:"):].partition(":")
    label = f"{fault} {rest.rpartition('@')[0] or rest}"
    return next((f"fault-{n.index}" for n in ctx.around if n.label == label), None)


FORMAT = HtmlReport()
