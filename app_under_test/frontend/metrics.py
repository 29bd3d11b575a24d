"""Prometheus metrics of one frontend process, in its own registry.

A registry per app (not the global one) so several apps in one test process never collide.
Queue depths are gauges read at scrape time, at most once a second (scrapes within a
second share one read, so a room scraping in a loop cannot stall the writer): a number
cached for longer would lie exactly when someone looks at it during an outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping

from exodus2045.app_under_test.ports import QueueDepth
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger("exodus.frontend")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OUTCOMES = ("accepted", "duplicate", "conflict", "unavailable", "failed")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)

DepthReader = Callable[[], Mapping[str, QueueDepth]]


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
    """Counters by outcome and status, enqueue latency, batch size, queue depths."""

    def __init__(self, read_depths: DepthReader | None = None) -> None:
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
        if read_depths is not None:
            self.registry.register(_QueueDepths(read_depths))

    def rejected(self, status: int) -> None:
        self._rejected.labels(str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
