"""The adapter's ``[limits]``: the team's input limits, so expected answers match its API.

Exodus plans each wish to be accepted or refused by its own limits (docs/architecture.md
"Input limits"). A team whose limits differ says so here, and ``bad-input`` and
``no-false-rejects`` expect the answers these limits give (docs/architecture.md "Adapter:
input limits"; the audit's side is :mod:`exodus2045.reports.input_limits`)::

    [limits]
    evacuee_max = 100          # characters after NFC, trimmed
    message_max = 500          # characters after NFC
    body_max = 16384           # bytes of the request body as the swarm sends it
    destinations = ["mars"]    # Exodus's names of the destinations the team has
    empty_message = "reject"   # or "accept": a message of only whitespace

Every key is optional and defaults to Exodus's own limit. Without ``[limits]`` at all,
Exodus's limits are assumed, and a failure that a difference would explain says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exodus2045.reports.input_limits import EMPTY, EXODUS, InputLimits

SIZES = ("evacuee_max", "message_max", "body_max")
TOP_LEVEL: set[str] = set()
SECTIONS: dict[str, set[str] | None] = {"limits": {*SIZES, "destinations", "empty_message"}}


def parse(data: Mapping[str, Any], v: Any) -> dict[str, Any]:
    """``{"limits": InputLimits}`` when ``[limits]`` is there and valid; problems go to ``v``."""
    section = v.table(data, "limits")
    if section is None:
        return {}
    ok = True
    for key in SIZES:
        value = section.get(key, getattr(EXODUS, key))
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            v.add("limits", key, f"must be a whole number of at least 1, got {value!r}")
            ok = False
    destinations = section.get("destinations", list(EXODUS.destinations))
    if not (isinstance(destinations, list) and destinations and all(
            isinstance(d, str) and d and d == d.strip().lower() for d in destinations)):
        v.add("limits", "destinations", "must be a non-empty list of Exodus's destination "
              f"names in lower case (e.g. [\"mars\", \"jupiter\"]), got {destinations!r}")
        ok = False
    empty = section.get("empty_message", EXODUS.empty_message)
    if empty not in EMPTY:
        v.add("limits", "empty_message", f"must be \"reject\" or \"accept\", got {empty!r}")
        ok = False
    if not ok:
        return {}
    return {"limits": InputLimits(
        **{k: section.get(k, getattr(EXODUS, k)) for k in SIZES},
        destinations=tuple(destinations), empty_message=empty)}
