"""Inline SVG charts for report.html, written by hand.

Why no plotting library: the report must be one self-contained file with no script, no
web font and no remote resource, and it must be byte-for-byte reproducible for the golden
tests. A few hundred lines of SVG text give both; a plotting library gives neither for free.

Every string that reaches the SVG (titles, series names such as queue names, fault labels
from timeline.jsonl) goes through :func:`svg_text`, which drops XML-forbidden characters and
escapes for HTML text and attributes alike. Numbers are formatted with fixed precision so
the output never depends on float noise.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

from exodus2045.reports.formats import Point, Window, excerpt, xml_safe

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 30, 34
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096", "#b7791f")
FAULT_FILL = "#e53e3e"


def svg_text(value: object) -> str:
    return html.escape(xml_safe(str(value)), quote=True)


def svg_num(value: float) -> str:
    """Coordinates with one decimal: enough for 640 px, stable across platforms."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def nice_ticks(upper: float, count: int = 5) -> list[float]:
    """0 and round steps up to at least ``upper`` (1, 2, 2.5 or 5 times a power of ten)."""
    if upper <= 0 or not math.isfinite(upper):
        return [0.0, 1.0]
    raw = upper / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < upper - 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _tick_label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.2g}"


class Frame:
    """Maps data to pixels for one chart and writes its axes."""

    def __init__(self, x_max: float, y_max: float) -> None:
        self.x_ticks = nice_ticks(x_max)
        self.y_ticks = nice_ticks(y_max)
        self.x_max = self.x_ticks[-1]
        self.y_max = self.y_ticks[-1]

    def x(self, value: float) -> float:
        return LEFT + PLOT_W * min(max(value, 0.0), self.x_max) / self.x_max

    def y(self, value: float) -> float:
        return TOP + PLOT_H - PLOT_H * min(max(value, 0.0), self.y_max) / self.y_max

    def axes(self, x_label: str, y_label: str, *, x_ticks: bool = True) -> list[str]:
        """Grid, tick labels and axis titles; bar charts have categories, not x ticks."""
        out = []
        for tick in self.y_ticks:
            y = svg_num(self.y(tick))
            out.append(
                f'<line class="grid" x1="{LEFT}" y1="{y}" x2="{LEFT + PLOT_W}" y2="{y}"/>'
                f'<text class="tick" x="{LEFT - 6}" y="{y}" text-anchor="end" '
                f'dominant-baseline="middle">{svg_text(_tick_label(tick))}</text>'
            )
        for tick in self.x_ticks if x_ticks else ():
            x = svg_num(self.x(tick))
            out.append(
                f'<text class="tick" x="{x}" y="{TOP + PLOT_H + 14}" '
                f'text-anchor="middle">{svg_text(_tick_label(tick))}</text>'
            )
        out.append(
            f'<line class="axis" x1="{LEFT}" y1="{TOP + PLOT_H}" x2="{LEFT + PLOT_W}" '
            f'y2="{TOP + PLOT_H}"/>'
            f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + PLOT_H}"/>'
            f'<text class="label" x="{LEFT + PLOT_W / 2:.1f}" y="{HEIGHT - 4}" '
            f'text-anchor="middle">{svg_text(x_label)}</text>'
            f'<text class="label" x="12" y="{TOP + PLOT_H / 2:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {TOP + PLOT_H / 2:.1f})">{svg_text(y_label)}</text>'
        )
        return out

    def windows(self, windows: Sequence[Window]) -> list[str]:
        """Fault windows shaded behind the data; an open ``on`` is a dashed marker."""
        out = []
        for window in windows:
            full, label = svg_text(window.label), svg_text(excerpt(window.label, 28))
            x0 = self.x(window.start)
            if window.end is None:
                out.append(
                    f'<line class="fault-mark" x1="{svg_num(x0)}" y1="{TOP}" x2="{svg_num(x0)}" '
                    f'y2="{TOP + PLOT_H}"><title>{full}</title></line>'
                )
            else:
                width = max(self.x(window.end) - x0, 1.0)
                out.append(
                    f'<rect class="fault" x="{svg_num(x0)}" y="{TOP}" width="{svg_num(width)}" '
                    f'height="{PLOT_H}"><title>{full}</title></rect>'
                )
            out.append(
                f'<text class="fault-label" x="{svg_num(x0 + 2)}" y="{TOP + 10}">{label}</text>'
            )
        return out


def svg_figure(title: str, body: list[str], legend: Sequence[str], height: int = HEIGHT) -> str:
    items = []
    step = 150 if len(legend) * 150 <= WIDTH - LEFT else (WIDTH - LEFT - 8) // len(legend)
    for index, name in enumerate(legend):
        x = LEFT + 8 + index * step
        color = PALETTE[index % len(PALETTE)]
        items.append(
            f'<rect x="{x}" y="8" width="10" height="10" fill="{color}"/>'
            f'<text class="legend" x="{x + 14}" y="17">{svg_text(excerpt(name, 22))}</text>'
        )
    return (
        f'<figure class="chart"><figcaption>{svg_text(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{svg_text(title)}">'
        f"{''.join(body)}{''.join(items)}</svg></figure>"
    )


def no_data() -> str:
    return (
        f'<text class="empty" x="{LEFT + PLOT_W / 2:.1f}" y="{TOP + PLOT_H / 2:.1f}" '
        f'text-anchor="middle">no data</text>'
    )


def line_chart(
    title: str,
    lines: Mapping[str, Sequence[Point]],
    *,
    x_max: float,
    y_label: str,
    windows: Sequence[Window] = (),
    x_label: str = "seconds since run start",
) -> str:
    """Lines over time (x in seconds since run start), fault windows shaded behind."""
    values = [y for points in lines.values() for _, y in points if math.isfinite(y)]
    ends = [w.end if w.end is not None else w.start for w in windows]
    frame = Frame(max([x_max, *ends, 1.0]), max(values, default=0.0) * 1.05)
    body = frame.windows(windows) + frame.axes(x_label, y_label)
    for index, points in enumerate(lines.values()):
        color = PALETTE[index % len(PALETTE)]
        coords = " ".join(
            f"{svg_num(frame.x(x))},{svg_num(frame.y(y))}" for x, y in points if math.isfinite(y)
        )
        if coords:
            body.append(f'<polyline fill="none" stroke="{color}" points="{coords}"/>')
    if not values:
        body.append(no_data())
    return svg_figure(title, body, list(lines))


def bar_chart(
    title: str, groups: Mapping[str, Mapping[str, float]], *, y_label: str
) -> str:
    """Grouped bars: one group per category (Mars, Jupiter), one bar per measure."""
    measures = list(dict.fromkeys(m for bars in groups.values() for m in bars))
    values = [v for bars in groups.values() for v in bars.values()]
    frame = Frame(1.0, max(values, default=0.0) * 1.05)
    body = frame.axes("", y_label, x_ticks=False)
    slot = PLOT_W / max(len(groups), 1)
    bar_w = min(48.0, (slot - 24) / max(len(measures), 1))
    for g_index, (group, bars) in enumerate(groups.items()):
        left = LEFT + g_index * slot + (slot - bar_w * len(measures)) / 2
        for m_index, measure in enumerate(measures):
            value = float(bars.get(measure, 0.0))
            y = frame.y(value)
            x = left + m_index * bar_w
            body.append(
                f'<rect x="{svg_num(x)}" y="{svg_num(y)}" width="{svg_num(bar_w - 4)}" '
                f'height="{svg_num(TOP + PLOT_H - y)}" fill="{PALETTE[m_index % len(PALETTE)]}">'
                f"<title>{svg_text(group)} {svg_text(measure)}: {svg_text(f'{value:g}')}</title></rect>"
                f'<text class="tick" x="{svg_num(x + (bar_w - 4) / 2)}" y="{svg_num(y - 3)}" '
                f'text-anchor="middle">{svg_text(f"{value:g}")}</text>'
            )
        body.append(
            f'<text class="label" x="{svg_num(LEFT + g_index * slot + slot / 2)}" '
            f'y="{TOP + PLOT_H + 16}" text-anchor="middle">{svg_text(group)}</text>'
        )
    if not values:
        body.append(no_data())
    return svg_figure(title, body, measures)
