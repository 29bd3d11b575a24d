"""The two per-hop pictures of report.html: a stacked area over time and a waterfall.

Same rules as :mod:`exodus2045.reports.charts` (whose frame, palette and escaping they use):
hand-written SVG, fixed precision, every string escaped, so the report stays one
self-contained, reproducible file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from exodus2045.reports.charts import (
    LEFT,
    PALETTE,
    PLOT_W,
    TOP,
    Frame,
    no_data,
    svg_figure,
    svg_num,
    svg_text,
)
from exodus2045.reports.formats import Point, Window
from exodus2045.reports.hops import HOP_NAMES, HOPS, SHORT_NAMES, Traced

WATERFALL_ROW_H = 14


def stacked_hops(
    title: str, over_time: Mapping[str, Sequence[Point]], *, x_max: float,
    windows: Sequence[Window] = (),
) -> str:
    """Median of each hop per bucket, stacked: the top edge is the median journey."""
    xs = sorted({x for points in over_time.values() for x, _ in points})
    value = {h: dict(over_time.get(h, ())) for h in HOPS}
    tops = [sum(value[h].get(x, 0.0) for h in HOPS) for x in xs]
    ends = [w.end if w.end is not None else w.start for w in windows]
    frame = Frame(max([x_max, *ends, 1.0]), max(tops, default=0.0) * 1.05)
    body = frame.windows(windows) + frame.axes("seconds since run start (by arrival)", "seconds")
    below = [0.0] * len(xs)
    for index, hop in enumerate(HOPS):
        above = [b + value[hop].get(x, 0.0) for b, x in zip(below, xs, strict=True)]
        if xs:
            upper = " ".join(f"{svg_num(frame.x(x))},{svg_num(frame.y(y))}" for x, y in zip(xs, above,
                                                                                      strict=True))
            lower = " ".join(f"{svg_num(frame.x(x))},{svg_num(frame.y(y))}"
                             for x, y in reversed(list(zip(xs, below, strict=True))))
            body.append(f'<polygon fill="{PALETTE[index]}" fill-opacity="0.75" '
                        f'points="{upper} {lower}"><title>{svg_text(HOP_NAMES[hop])}</title>'
                        "</polygon>")
        below = above
    if not xs or not any(math.isfinite(t) and t > 0 for t in tops):
        body.append(no_data())
    return svg_figure(title, body, [SHORT_NAMES[h] for h in HOPS])


def waterfall(title: str, slowest: Sequence[Traced]) -> str:
    """One row per wish (the slowest first), one bar per hop, on the wish's own clock."""
    longest = max((t.total for t in slowest), default=0.0)
    rows = max(len(slowest), 1)
    height = TOP + rows * WATERFALL_ROW_H + 34
    frame = Frame(longest * 1.02 or 1.0, 1.0)
    body = []
    for tick in frame.x_ticks:
        x = svg_num(frame.x(tick))
        body.append(f'<line class="grid" x1="{x}" y1="{TOP}" x2="{x}" '
                    f'y2="{TOP + rows * WATERFALL_ROW_H}"/>'
                    f'<text class="tick" x="{x}" y="{TOP + rows * WATERFALL_ROW_H + 14}" '
                    f'text-anchor="middle">{svg_text(f"{tick:g}")}</text>')
    for row, wish in enumerate(slowest):
        y = TOP + row * WATERFALL_ROW_H
        body.append(f'<text class="tick" x="{LEFT - 4}" y="{y + 10}" text-anchor="end">'
                    f"…{svg_text(wish.wish_id[-6:])}</text>")
        at = 0.0
        for index, hop in enumerate(HOPS):
            span = wish.hops[hop]
            x0, x1 = frame.x(at), frame.x(at + span)
            body.append(f'<rect x="{svg_num(x0)}" y="{y + 2}" width="{svg_num(max(x1 - x0, 0.5))}" '
                        f'height="{WATERFALL_ROW_H - 4}" fill="{PALETTE[index]}">'
                        f"<title>{svg_text(wish.wish_id)} {svg_text(HOP_NAMES[hop])}: "
                        f"{svg_text(f'{span:.3f}')} s</title></rect>")
            at += span
    body.append(f'<text class="label" x="{LEFT + PLOT_W / 2:.1f}" y="{height - 4}" '
                'text-anchor="middle">seconds since the wish arrived</text>')
    if not slowest:
        body.append(no_data())
    return svg_figure(title, body, [SHORT_NAMES[h] for h in HOPS], height)
