"""metrics.jsonl: the pipeline once a second while the swarm runs and the pipeline drains.

Each sample asks the evidence protocol's live questions (queue depths, stored counts,
tally, restarts) of the run's sources, through a twin of the run's
:class:`~exodus2045.scenarios.evidence.collector.Evidence` opened in this thread, so a field
no source answers is null and evidence.json says which source filled the rest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from exodus2045.scenarios.evidence.collector import Evidence


class Sampler(threading.Thread):
    """Writes metrics.jsonl once a second and feeds an optional progress callback."""

    def __init__(self, evidence: Evidence, path: Path, t0: float,
                 on_sample: Callable[[dict[str, Any]], None] | None = None,
                 period_s: float = 1.0) -> None:
        super().__init__(name="sampler", daemon=True)
        self.evidence = evidence
        self.path = path
        self.t0 = t0
        self.on_sample = on_sample
        self.period_s = period_s
        self.stop_event = threading.Event()
        self.last: dict[str, Any] | None = None

    def run(self) -> None:
        own = self.evidence.reopen()  # sqlite3 connections are not shared across threads
        try:
            with self.path.open("a", encoding="utf-8") as f:
                while True:
                    try:
                        self.last = own.sample(self.t0)
                        f.write(json.dumps(self.last) + "\n")
                        f.flush()
                        if self.on_sample:
                            self.on_sample(self.last)
                    except OSError:
                        pass  # a missed sample is a gap in a chart, not a failed run
                    if self.stop_event.is_set():
                        break  # that was the closing sample: the state the run ended in
                    self.stop_event.wait(self.period_s)
        finally:
            own.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=10)
