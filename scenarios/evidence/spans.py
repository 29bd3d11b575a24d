"""Copy a run's spans from the stack's state dir into the run folder (``spans.jsonl``).

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
