"""The adapter's ``content`` key: how the team's stored text is compared with what was sent.

``content = "exact"`` (the default: Exodus's markup policy), ``"normalized"`` (the team may
change Unicode composition and whitespace, nothing else) or ``"escaped"`` (the team
HTML-escapes on write; the audit un-escapes once). The meaning of each lives with the audit
that applies it, :mod:`exodus2045.reports.content_modes` (docs/architecture.md "Adapter:
content modes"); this module only validates the key and records it in run.json.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exodus2045.reports.content_modes import DEFAULT, MODES

TOP_LEVEL = {"content"}
SECTIONS: dict[str, set[str] | None] = {}


def parse(data: Mapping[str, Any], v: Any) -> dict[str, Any]:
    """``{"content": mode}`` for the Adapter; problems go to the validator ``v``."""
    mode = data.get("content", DEFAULT)
    if mode not in MODES:
        v.add("", "content", f"must be one of {', '.join(repr(m) for m in MODES)}, got {mode!r}")
        return {}
    return {"content": mode}
