"""``exodus bench recovery`` on a tiny outage: the figures the contract names, and sane ones."""

from __future__ import annotations

import argparse

from exodus2045.scenarios.benchmarks import recovery


def test_recovery_benchmark_reports_backlog_and_drain() -> None:
    args = argparse.Namespace(seconds=1.5, rate=400.0, parsers=1, pod_workers=1, timeout=60.0)
    figures = recovery.run(args)
    assert list(figures) == ["arrival_per_s", "backlog", "drain_seconds"]
    assert 300 <= figures["arrival_per_s"] <= 420
    # every wish of the outage was still queued at the release: the parser was really down
    assert figures["backlog"] == int(args.rate * args.seconds)
    assert 0 < figures["drain_seconds"] < args.timeout
