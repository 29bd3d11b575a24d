"""Payload markers: how the audit recognises an infiltrator's payload wherever it lands.

Every malicious payload carries a marker ``XM`` + 8 lowercase hex digits (the swarm's
``exodus2045.locustfiles.payloads`` mints them); the ledger names the marker, never the body. Finding a
marker in stored text or on a page ties what we see back to one wish in the ledger. The
regex is repeated here on purpose: the audit must not need the swarm's code to judge a run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MARKER = re.compile(r"XM[0-9a-f]{8}(?![0-9a-f])")  # as locustfiles.payloads.MARKER_RE


def markers_in(text: str | None) -> set[str]:
    """Every marker in ``text`` (empty for None)."""
    return set(MARKER.findall(text)) if text else set()


def markers_in_all(texts: Iterable[str | None]) -> set[str]:
    found: set[str] = set()
    for text in texts:
        found |= markers_in(text)
    return found
