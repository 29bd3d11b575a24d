"""The report of a capacity search: p95 and throughput against offered rate, each step judged.

``exodus run --find-capacity`` leaves a folder with ``capacity.json`` and one run folder per
step. This renders that folder's own ``report.html`` (two inline-SVG charts, the step table,
links to each step's report) and ``summary.md`` (the knee in one line, then the steps), from
``capacity.json`` alone, so ``exodus report FOLDER`` can redo it later.

Each step is a point marked by its verdict: a filled circle for a sound step, a cross for any
other outcome (``data-rate`` and ``data-outcome`` on the mark, a ``<title>`` for the reader).
The knee (the highest sound rate) is a dashed line. A fast step that lost wishes is still a
cross: soundness, not latency, decides where the knee is (scenarios/capacity.py). Every string
from the folder (outcomes, check ids, folder names) is escaped as in the run report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.charts import (
    LEFT,
    PALETTE,
    PLOT_H,
    TOP,
    Frame,
    svg_figure,
    svg_num,
    svg_text,
)
from exodus2045.reports.formats.html import CSP, STYLE, esc, href
from exodus2045.reports.formats.markdown import md

CAPACITY_FILE = "capacity.json"
SOUND_FILL, UNSOUND_STROKE = "#2f855a", "#c53030"
KNEE_STYLE = "svg .knee{stroke:#2f855a;stroke-dasharray:5 3}svg .knee-label{fill:#2f855a}"


class CapacityError(ExodusError):
    """A capacity folder without a readable capacity.json."""


def load_capacity(folder: Path) -> dict[str, Any]:
    path = Path(folder) / CAPACITY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CapacityError(f"{path}: not a capacity search's result ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise CapacityError(f"{path}: no steps")
    return data


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def steps_by_rate(capacity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps with a numeric rate, lowest rate first (bisection runs them out of order)."""
    steps = [s for s in capacity.get("steps", []) if isinstance(s, dict)
             and _number(s.get("rate")) is not None]
    return sorted(steps, key=lambda s: float(s["rate"]))


def knee_chart(title: str, steps: Sequence[Mapping[str, Any]], key: str, y_label: str,
               knee: float | None) -> str:
    """One measure (``p95_ms`` or ``throughput``) against offered rate, marks by verdict."""
    points = [(float(s["rate"]), _number(s.get(key)), str(s.get("outcome", "?"))) for s in steps]
    values = [y for _, y, _ in points if y is not None]
    rates = [x for x, _, _ in points]
    frame = Frame(max(rates, default=1.0) * 1.05, max(values, default=0.0) * 1.1)
    body = frame.axes("offered rate (evacuees/s)", y_label)
    if knee is not None:
        x = svg_num(frame.x(knee))
        body.append(f'<line class="knee" x1="{x}" y1="{TOP}" x2="{x}" y2="{TOP + PLOT_H}"/>'
                    f'<text class="knee-label" x="{svg_num(frame.x(knee) + 3)}" y="{TOP + 10}">'
                    f'knee {svg_text(f"{knee:g}")}/s</text>')
    coords = " ".join(f"{svg_num(frame.x(x))},{svg_num(frame.y(y))}" for x, y, _ in points
                      if y is not None)
    if coords:
        body.append(f'<polyline fill="none" stroke="{PALETTE[0]}" points="{coords}"/>')
    for x, y, outcome in points:
        if y is None:
            continue
        cx, cy = frame.x(x), frame.y(y)
        tip = f"<title>{svg_text(f'{x:g}/s: {outcome}, {y:g} {y_label}')}</title>"
        attrs = f'class="step {svg_text(outcome)}" data-rate="{svg_text(f"{x:g}")}" ' \
                f'data-outcome="{svg_text(outcome)}" data-value="{svg_text(f"{y:g}")}"'
        if outcome == "sound":
            body.append(f'<circle {attrs} cx="{svg_num(cx)}" cy="{svg_num(cy)}" r="4" '
                        f'fill="{SOUND_FILL}">{tip}</circle>')
        else:
            d = (f"M{svg_num(cx - 4)} {svg_num(cy - 4)}L{svg_num(cx + 4)} {svg_num(cy + 4)}"
                 f"M{svg_num(cx - 4)} {svg_num(cy + 4)}L{svg_num(cx + 4)} {svg_num(cy - 4)}")
            body.append(f'<path {attrs} d="{d}" stroke="{UNSOUND_STROKE}" '
                        f'stroke-width="2.2" fill="none">{tip}</path>')
    if not values:
        body.append(f'<text class="empty" x="{LEFT + 280}" y="{TOP + PLOT_H / 2:.1f}" '
                    'text-anchor="middle">no data</text>')
    return svg_figure(title, body, [y_label])


def knee_line(capacity: Mapping[str, Any]) -> str:
    """The knee in words: the highest sound rate and the first that was not, and why."""
    good, bad = _number(capacity.get("highest_sound_rate")), capacity.get("first_unsound_rate")
    if good is None:
        return "Knee: no step was sound"
    text = f"Knee: {good:g} evacuees/s sound"
    if _number(bad) is None:
        return text + " (no step above it failed; raise --max-rate to find where it breaks)"
    return text + f"; first not sound: {float(bad):g}/s ({capacity.get('why') or 'not sound'})"


def _cell(value: Any, digits: int = 1) -> str:
    number = _number(value)
    return "–" if number is None else f"{number:.{digits}f}"


def render_html(capacity: Mapping[str, Any], folder_name: str) -> str:
    steps = steps_by_rate(capacity)
    knee = _number(capacity.get("highest_sound_rate"))
    charts = (knee_chart("p95 response time (from intended start) by offered rate", steps,
                         "p95_ms", "p95 ms", knee)
              + knee_chart("throughput by offered rate", steps, "throughput",
                           "acknowledged/s", knee))
    rows = []
    for step in steps:
        outcome = str(step.get("outcome", "?"))
        cls = "passed" if outcome == "sound" else "failed"
        link = href(f"{Path(str(step.get('run_dir', ''))).name}/report.html")
        cell = f'<a href="{esc(link)}">report</a>' if link else "–"
        failed = ", ".join(map(str, step.get("failed") or [])) or "–"
        rate = f"{float(step['rate']):g}"
        rows.append(
            f'<tr><td class="num">{esc(rate)}</td>'
            f'<td class="{cls}">{esc(outcome)}</td><td>{esc(failed)}</td>'
            f'<td class="num">{esc(_cell(step.get("p95_ms")))}</td>'
            f'<td class="num">{esc(_cell(step.get("throughput")))}</td><td>{cell}</td></tr>')
    head = ("<tr><th>offered /s</th><th>outcome</th><th>failed checks</th><th>p95 ms</th>"
            "<th>throughput /s</th><th>step</th></tr>")
    title = f"Exodus 2045 — capacity search {folder_name}"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">',
        '<meta name="referrer" content="no-referrer">',
        f"<title>{esc(title)}</title><style>{STYLE}{KNEE_STYLE}</style></head><body>",
        f"<header><h1>{esc(title)}</h1><p>{esc(knee_line(capacity))}</p></header>",
        f'<h2>The knee</h2><div class="charts">{charts}</div>',
        '<p class="muted">Each point is one step, an audited run: a circle is sound, a cross '
        "is not (soundness decides the knee, not latency).</p>",
        f"<h2>Steps</h2><table>{head}{''.join(rows)}</table>",
        "</body></html>",
    ]) + "\n"


def render_markdown(capacity: Mapping[str, Any], folder_name: str) -> str:
    lines = [f"## Exodus 2045: capacity search {md(folder_name, 120)}", "",
             f"**{md(knee_line(capacity), 600)}**", "",
             "| offered /s | outcome | failed checks | p95 ms | throughput /s |",
             "|---:|---|---|---:|---:|"]
    for step in steps_by_rate(capacity):
        failed = ", ".join(map(str, step.get("failed") or [])) or "–"
        lines.append(f"| {float(step['rate']):g} | {md(step.get('outcome'), 40)} "
                     f"| {md(failed, 300)} | {_cell(step.get('p95_ms'))} "
                     f"| {_cell(step.get('throughput'))} |")
    lines += ["", "Full report: report.html in this folder (the knee plotted; each step's "
                  "own report)."]
    return "\n".join(lines) + "\n"


def render_capacity(folder: Path) -> list[Path]:
    """Write ``report.html`` and ``summary.md`` of a capacity folder; the paths written."""
    folder = Path(folder)
    capacity = load_capacity(folder)
    written = []
    for name, text in (("report.html", render_html(capacity, folder.name)),
                       ("summary.md", render_markdown(capacity, folder.name))):
        path = folder / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
        written.append(path)
    return written
