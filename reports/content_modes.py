"""How stored text is compared with what was sent: ``exact``, ``normalized`` or ``escaped``.

docs/architecture.md "Adapter: content modes". Exodus's own pipeline is judged ``exact``: the
stored text is the markup policy's expected text (:mod:`exodus2045.reports.markup_policy`),
character for character. A team's pipeline may legitimately store something else, and an
adapter says which, so the team is judged rather than failed by definition:

- ``normalized``: both sides are reduced by :func:`normalized` (NFC; control characters
  other than whitespace dropped; every run of whitespace one space; trimmed) and must then be
  equal. A team may change Unicode composition, drop control characters, collapse, trim or
  re-break whitespace -- nothing else: case, markup, punctuation, a lost or an extra
  character, a truncation all still differ.
- ``escaped``: the team HTML-escapes on write. The stored text must be well-formed escaped
  text (no raw ``<`` or ``>``; every ``&`` begins a complete ``&name;``, ``&#N;`` or
  ``&#xH;`` reference); it is un-escaped exactly once and compared exactly. Double escaping
  leaves ``&amp;lt;`` as ``&lt;`` (differs), an escape cut short leaves a bare ``&`` (not
  well-formed), and any other change differs as under ``exact``.

The pages that show messages are judged by the no-executable-markup oracle whatever the
mode: a mode says how to read the store, never whether a page may run script.
"""

from __future__ import annotations

import html.entities
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

MODES = ("exact", "normalized", "escaped")
DEFAULT = "exact"
#: Whitespace control characters: separators under ``normalized``, not dropped.
_WHITESPACE_CONTROLS = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85")
_REFERENCE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{0,31}));")


def mode_of(meta: Mapping[str, Any]) -> str:
    """The content mode a run was judged under: its adapter's, else ``exact``."""
    adapter = meta.get("adapter")
    mode = adapter.get("content", DEFAULT) if isinstance(adapter, Mapping) else DEFAULT
    return str(mode)


def normalized(text: str) -> str:
    """NFC; control characters (Cc) dropped unless they are whitespace; each whitespace run
    one space; trimmed."""
    composed = unicodedata.normalize("NFC", text)
    kept = "".join(c for c in composed
                   if c in _WHITESPACE_CONTROLS or unicodedata.category(c) != "Cc")
    return " ".join(kept.split())


def unescape_once(text: str) -> tuple[str | None, str | None]:
    """``(text with each character reference decoded once, None)``, or ``(None, why)`` when
    ``text`` is not well-formed escaped HTML text."""
    for raw in "<>":
        if raw in text:
            return None, f"raw {raw!r} at index {text.index(raw)}: not escaped"
    out: list[str] = []
    at = 0
    while (amp := text.find("&", at)) != -1:
        out.append(text[at:amp])
        match = _REFERENCE.match(text, amp)
        decoded = _decode(match) if match else None
        if decoded is None:
            return None, f"bare '&' at index {amp}: not a complete character reference"
        out.append(decoded)
        at = match.end()  # type: ignore[union-attr]
    out.append(text[at:])
    return "".join(out), None


def _decode(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        return html.entities.html5.get(f"{name};")
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def differs(mode: str, want: str, got: Any) -> str | None:
    """None when ``got`` (stored) says ``want`` (the policy's expected text) under ``mode``;
    else a short reason."""
    if not isinstance(got, str):
        return f"stored {type(got).__name__}, not text"
    if mode == "normalized":
        return None if normalized(got) == normalized(want) else "differs after normalization"
    if mode == "escaped":
        decoded, why = unescape_once(got)
        if decoded is None:
            return why
        return None if decoded == want else "differs after un-escaping once"
    return None if got == want else "differs"
