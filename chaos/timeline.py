"""``timeline.jsonl``: every fault on, off and note, one JSON line each (docs/architecture.md "Timeline").

``t`` is seconds since the run (or stack) started, ``at`` the same moment in ISO 8601 UTC,
``source`` who did it (``scenario`` | ``cli`` | ``presenter``). Lines are appended whole,
one ``write`` each, so the schedule thread, the CLI and the presenter can share one file.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

EVENTS = ("on", "off", "note")
SOURCES = ("scenario", "cli", "presenter")
FIELDS = ("t", "at", "event", "fault", "target", "params", "source")


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


class Timeline:
    """Appends contract lines to one file; ``t0`` is the epoch second ``t`` counts from."""

    def __init__(self, path: Path, t0: float, source: str = "scenario") -> None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
        self.path = Path(path)
        self.t0 = t0
        self.source = source
        self._lock = threading.Lock()

    def write(self, event: str, fault: str, target: str,
              params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if event not in EVENTS:
            raise ValueError(f"event must be one of {', '.join(EVENTS)}, got {event!r}")
        now = time.time()
        line = {"t": round(now - self.t0, 3), "at": iso_utc(now), "event": event,
                "fault": fault, "target": target, "params": dict(params or {}),
                "source": self.source}
        text = json.dumps(line, ensure_ascii=False, default=_plain) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(text)
        return line


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    return str(value)


def read_timeline(path: Path) -> list[dict[str, Any]]:
    """Every parseable line (a torn last line is skipped, not fatal)."""
    out = []
    try:
        with Path(path).open(encoding="utf-8") as f:
            for raw in f:
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    continue
    except FileNotFoundError:
        return []
    return out
