"""The three seconds before and after each fault: process events and log lines, per component.

Reads what the run folder holds (docs/run-folder.md): ``events.jsonl`` (the supervisor's
started / exited with code or signal / held / resumed / restarted / stopped) and
``logs/<component>.log`` (what each process printed). A log line's time is its leading
``asctime`` (the pollers' logging format, in UTC); a line without one (a traceback's
body) takes the time of the line before it, and lines before any timestamp are left out:
they cannot be placed. Everything here is text the pipeline wrote: formats escape it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from exodus2045.reports.formats import Window

PAD_S = 3.0
LINES_PER_COMPONENT = 20
_ASCTIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) ")


@dataclass(frozen=True)
class LogLine:
    t: float  # seconds since run start
    text: str


@dataclass(frozen=True)
class AroundFault:
    """One fault window's neighbourhood: its edges +-PAD_S, events and lines within."""

    index: int
    label: str
    start: float
    end: float | None
    events: list[dict[str, Any]] = field(default_factory=list)  # with "t" relative
    lines: dict[str, list[LogLine]] = field(default_factory=dict)  # component -> lines


def read_logs(run_dir: Path, origin: float) -> dict[str, list[LogLine]]:
    """Per component (file stem), its timestamped lines on the run's clock."""
    folder = Path(run_dir) / "logs"
    out: dict[str, list[LogLine]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.log")):
        lines, last = [], None
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _ASCTIME.match(raw)
            if match:
                try:
                    stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").replace(
                        tzinfo=UTC).timestamp()
                    last = stamp + int(match[2]) / 1000 - origin
                except ValueError:
                    pass
            if last is not None and raw.strip():
                lines.append(LogLine(round(last, 3), raw))
        out[path.stem] = lines
    return out


def _near(t: float, window: Window) -> bool:
    edges = [window.start] if window.end is None else [window.start, window.end]
    return any(edge - PAD_S <= t <= edge + PAD_S for edge in edges)


def around_faults(
    windows: Sequence[Window],
    events: Sequence[Mapping[str, Any]],
    logs: Mapping[str, Sequence[LogLine]],
    origin: float,
) -> list[AroundFault]:
    result = []
    for index, window in enumerate(windows, 1):
        near_events = []
        for event in events:
            t = event.get("t")
            if isinstance(t, (int, float)) and math.isfinite(t) and _near(t - origin, window):
                near_events.append({**event, "t": round(float(t) - origin, 3)})
        lines = {}
        for component, component_lines in logs.items():
            near = [line for line in component_lines if _near(line.t, window)]
            if near:
                lines[component] = near[-LINES_PER_COMPONENT:]
        result.append(AroundFault(index, window.label, window.start, window.end,
                                  sorted(near_events, key=lambda e: e["t"]), lines))
    return result


def describe(event: Mapping[str, Any]) -> str:
    """``exited (SIGKILL)``, ``exited (code 1)``, ``restarted (restart 2)``, ``held``."""
    name = str(event.get("event", "?"))
    if event.get("signal"):
        return f"{name} ({event['signal']})"
    if event.get("code") is not None:
        return f"{name} (code {event['code']})"
    if name == "restarted" and event.get("restarts"):
        return f"{name} (restart {event['restarts']})"
    return name
