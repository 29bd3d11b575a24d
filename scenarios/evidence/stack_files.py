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
import os
import threading
from pathlib import Path
from typing import Any

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


class SpanCopy:
    """:func:`copy_spans`, done as the spans arrive: a reader calls :meth:`step` while the run
    goes (whole lines only), :meth:`finish` once the stack is down reads the rest.

    The same lines land in the same order with the same text as one :func:`copy_spans` at the
    end, because the state dir's file only grows; a carriage return (which the text-mode read
    of :func:`copy_spans` also splits lines at) or a file that shrank sends :meth:`finish` back
    to :func:`copy_spans` itself.
    """

    def __init__(self, state_root: Path, run_dir: Path, run_id: str) -> None:
        self.source = Path(state_root) / SPANS
        self.target = Path(run_dir) / SPANS
        self.run_id = run_id
        self.kept = 0
        self._offset = 0
        self._out: Any = None
        self._odd = False
        self._lock = threading.Lock()

    def step(self) -> None:
        with self._lock:
            try:
                self._read(final=False)
            except Exception:  # noqa: BLE001 - a disk full, say: finish() copies it all again
                self._odd = True

    def finish(self) -> int:
        """How many spans of the run were copied in all (0 and no file when none)."""
        with self._lock:
            try:
                self._read(final=True)
            except Exception:  # noqa: BLE001 - copy_spans below meets it again, or succeeds
                self._odd = True
            if self._out is not None:
                self._out.close()
                self._out = None
            if self._odd:
                if self.target.exists():
                    self.target.unlink()
                return copy_spans(self.source.parent, self.target.parent, self.run_id)
            if not self.kept and self.target.exists():
                self.target.unlink()
            return self.kept

    def _read(self, final: bool) -> None:
        if self._odd:
            return
        try:
            with open(self.source, "rb") as fh:
                if os.fstat(fh.fileno()).st_size < self._offset:
                    self._odd = True  # rewritten: the whole copy again, at the end
                    return
                fh.seek(self._offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        if not final:
            chunk = chunk[: chunk.rfind(b"\n") + 1]
        if not chunk:
            return
        if b"\r" in chunk:
            self._odd = True
            return
        self._offset += len(chunk)
        lines = chunk.split(b"\n")
        if chunk.endswith(b"\n"):
            lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            try:
                span = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line torn by a kill -9
            attrs = span.get("attributes") if isinstance(span, dict) else None
            if isinstance(attrs, dict) and attrs.get("exodus.run_id") == self.run_id:
                if self._out is None:
                    self._out = open(self.target, "w", encoding="utf-8")  # noqa: SIM115
                self._out.write(line + "\n")
                self.kept += 1


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
