"""Prometheus metrics of the frontend: one process's, or the whole stack's N processes'.

A registry per app (not the global one) so several apps in one test process never collide.
With ``--frontends N`` (N > 1) the supervisor gives every frontend process the same
``PROMETHEUS_MULTIPROC_DIR`` (emptied when the stack starts): each process writes its
counters and histograms there, and a scrape answered by any of them sums them all -- a
scrape is the whole frontend, not whichever process took the connection. Counts of a
process that died stay in the sum (its files stay; the supervisor calls
:func:`process_dead` for it), as a counter must never go down.

Exemplars: the accept latency histogram carries the wish's trace id, shown when a scrape
asks for OpenMetrics (``Accept: application/openmetrics-text``). prometheus-client keeps no
exemplars in multiprocess mode, so with N > 1 frontends whole-frontend numbers win and no
exemplars are shown (docs/architecture.md "Metrics").
Queue depths are gauges read at scrape time, at most once a second (scrapes within a
second share one read, so a room scraping in a loop cannot stall the writer): a number
cached for longer would lie exactly when someone looks at it during an outage.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector

from exodus2045.app_under_test.errors import ConfigError
from exodus2045.app_under_test.ports import QueueDepth
from exodus2045.app_under_test.settings import ENV_PROMETHEUS_MULTIPROC

log = logging.getLogger("exodus.frontend")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = ("accepted", "duplicate", "conflict", "unavailable", "failed")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

DepthReader = Callable[[], Mapping[str, QueueDepth]]
MULTIPROC_DIR = "prometheus"  # in the state dir, with N > 1 frontends
_NO_TRACE = "0" * 32


def fresh_multiproc_dir(state_dir: Path) -> Path:
    """The frontends' shared metrics folder, emptied: a new stack counts from zero."""
    folder = Path(state_dir) / MULTIPROC_DIR
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def process_dead(folder: Path, pid: int) -> None:
    """Bookkeeping for a frontend process that exited (its live gauges leave the sum)."""
    mark_process_dead(pid, str(folder))


def trace_exemplar(traceparent: str | None) -> dict[str, str] | None:
    """``{"trace_id": ...}`` from a W3C traceparent; None without a real trace."""
    parts = (traceparent or "").split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or parts[1] == _NO_TRACE:
        return None
    return {"trace_id": parts[1]}


class _QueueDepths(Collector):
    """Reads every queue's depth when scraped; a failed read leaves the gauge out."""

    def __init__(self, read: DepthReader) -> None:
        self.read = read

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "exodus_queue_depth", "Messages per queue and state, read at scrape time",
            labels=["queue", "state"],
        )
        try:
            depths = self.read()
        except Exception as exc:  # a scrape must answer even while a queue is down
            log.warning("queue depth unavailable: %s", exc)
            depths = {}
        for name, depth in depths.items():
            for state, value in depth.as_dict().items():
                family.add_metric([name, state], value)
        yield family


class FrontendMetrics:
    """Counters by outcome and status, enqueue latency, batch size, queue depths.

    ``multiproc_dir`` given: this process is one of N frontends sharing it (prometheus-client
    must have been imported with ``PROMETHEUS_MULTIPROC_DIR`` set to it), and a scrape
    answers with the sum over all of them.
    """

    def __init__(self, read_depths: DepthReader | None = None,
                 multiproc_dir: Path | None = None) -> None:
        self.multiproc = multiproc_dir is not None
        if self.multiproc and not os.environ.get(ENV_PROMETHEUS_MULTIPROC):  # read at import
            raise ConfigError("PROMETHEUS_MULTIPROC_DIR must be set when the process starts "
                              "(the supervisor sets it for N > 1 frontends)")
        self.registry = CollectorRegistry(auto_describe=False)
        wishes = Counter(
            "exodus_frontend_wishes", "Wish submissions by outcome",
            ["outcome"], registry=self.registry,
        )
        self.outcome = {name: wishes.labels(name) for name in OUTCOMES}
        self._rejected = Counter(
            "exodus_frontend_rejected", "Submissions rejected before the queue, by HTTP status",
            ["status"], registry=self.registry,
        )
        self.enqueue_seconds = Histogram(
            "exodus_frontend_enqueue_seconds", "Time from submission to durable enqueue",
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.batch_size = Histogram(
            "exodus_frontend_batch_size", "Submissions committed per group commit",
            buckets=BATCH_BUCKETS, registry=self.registry,
        )
        self.scrape = self.registry
        if multiproc_dir is not None:
            self.scrape = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(self.scrape, str(multiproc_dir))
        if read_depths is not None:
            self.scrape.register(_QueueDepths(read_depths))

    def rejected(self, status: int) -> None:
        self._rejected.labels(str(status)).inc()

    def accepted_in(self, seconds: float, traceparent: str | None = None) -> None:
        """One durable enqueue took ``seconds``; its trace id is the bucket's exemplar."""
        exemplar = None if self.multiproc else trace_exemplar(traceparent)
        self.enqueue_seconds.observe(seconds, exemplar)

    def render(self, accept: str | None = None) -> tuple[bytes, str]:
        """The exposition the scraper asked for: OpenMetrics (with exemplars) or text."""
        if wants_openmetrics(accept):
            return openmetrics.generate_latest(self.scrape), openmetrics.CONTENT_TYPE_LATEST
        return generate_latest(self.scrape), CONTENT_TYPE


def wants_openmetrics(accept: str | None) -> bool:
    """Whether an Accept header names OpenMetrics (Prometheus sends it first when it can)."""
    return any(part.split(";")[0].strip().lower() == "application/openmetrics-text"
               for part in (accept or "").split(","))
