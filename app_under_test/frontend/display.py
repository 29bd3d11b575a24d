"""Visitor text as the room sees it: no direction tricks, no marks spilling over lines.

Stored text stays exactly what was sent (docs/architecture.md "Markup policy"); only display
changes. Two tricks a room plays on a projector:

- a bidi override (U+202E) reverses what follows, so ``...\\u202egnp.exe`` shows as
  "exe.png" -- the old way to sneak a reversed word past a moderator. Every bidi embedding,
  override, isolate and mark is dropped for display, and pages isolate each wish's text
  (``<bdi>``, ``unicode-bidi: isolate``) so nothing one wish does reaches the next;
- a stack of combining marks ("zalgo") draws far above and below its line. At most
  :data:`MARKS_MAX` marks are kept after each base character, enough for any real script.
"""

from __future__ import annotations

import unicodedata

#: LRE RLE PDF LRO RLO, LRI RLI FSI PDI, LRM RLM ALM.
BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
)
MARKS_MAX = 3


def for_display(text: str) -> str:
    """``text`` with bidi controls removed and combining marks capped per character."""
    if text.isascii():
        return text
    text = text.translate(BIDI_CONTROLS)
    out: list[str] = []
    marks = 0
    for ch in text:
        if unicodedata.category(ch) in ("Mn", "Me"):
            marks += 1
            if marks > MARKS_MAX:
                continue
        else:
            marks = 0
        out.append(ch)
    return "".join(out)
