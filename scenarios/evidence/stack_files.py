"""What the stack wrote about itself during a run, copied into the run folder.

``spans.jsonl`` (the run's spans), ``events.jsonl`` (the supervisor's process events in the
run's time) and ``logs/<component>.log`` (what each process printed). Logs are text the
pipeline wrote: the report escapes them like any other run data.

The pipeline processes append finished spans to ``<state dir>/spans.jsonl`` when the
OpenTelemetry SDK is installed (:mod:`exodus2045.app_under_test.tracing_sdk`); a run keeps
the lines whose ``exodus.run_id`` attribute is its own. Called after the stack stopped (its
processes flush their last batch on the way out); for an attached stack that keeps running,
spans of the last few seconds may still be in its buffers.
"""

from __future__ import annotations

import json
from pathlib import Path

SPANS = "spans.jsonl"
EVENTS = "events.jsonl"
LOGS = "logs"
LOG_MAX_BYTES = 2_000_000  # per component: the tail, if a process talked that much


def copy_spans(state_root: Path, run_dir: Path, run_id: str) -> int:
    """How many spans of ``run_id`` were copied; 0 and no file when tracing was off."""
    source = Path(state_root) / SPANS
    if not source.is_file():
        return 0
    kept = 0
    with open(source, encoding="utf-8", errors="replace") as lines, \
            open(run_dir / SPANS, "w", encoding="utf-8") as out:
        for line in lines:
            try:
                span = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill -9
            attrs = span.get("attributes") if isinstance(span, dict) else None
            if isinstance(attrs, dict) and attrs.get("exodus.run_id") == run_id:
                out.write(line if line.endswith("\n") else line + "\n")
                kept += 1
    if not kept:
        (run_dir / SPANS).unlink()
    return kept


def copy_events(state_root: Path, run_dir: Path, since: float, until: float) -> int:
    """The supervisor's events between ``since`` and ``until`` (epoch s); how many."""
    source = Path(state_root) / EVENTS
    if not source.is_file():
        return 0
    kept = []
    for line in source.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        t = event.get("t") if isinstance(event, dict) else None
        if isinstance(t, (int, float)) and since <= t <= until:
            kept.append(line + "\n")
    if kept:
        (run_dir / EVENTS).write_text("".join(kept), encoding="utf-8")
    return len(kept)


def copy_logs(state_root: Path, run_dir: Path) -> list[str]:
    """Every component log (its last :data:`LOG_MAX_BYTES`); the component file names."""
    source = Path(state_root) / LOGS
    if not source.is_dir():
        return []
    names = []
    for log in sorted(source.glob("*.log")):
        data = log.read_bytes()[-LOG_MAX_BYTES:]
        if not data:
            continue
        (run_dir / LOGS).mkdir(exist_ok=True)
        (run_dir / LOGS / log.name).write_bytes(data)
        names.append(log.name)
    return names
