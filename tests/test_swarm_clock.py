"""A worker's clock offset: the estimator by itself, and a skewed worker end to end.

The worker on "another host" is an ``exodus swarm worker`` whose clock is set 3 s ahead
through its config (``SwarmWorkerConfig``, from ``EXODUS_SWARM_CLOCK_SKEW``): the master
must report an offset close to 3 s, and the merged ledger's times must be on the master's
clock (the frontend's ``accepted_at`` follows each ``sent_at`` by about the service time, and
nothing was sent before the run's start).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap

import pytest

from exodus2045.app_under_test.settings import SwarmWorkerConfig
from exodus2045.locustfiles.clock import (
    BURST,
    PERIOD_S,
    ClockBook,
    Sample,
    WorkerClock,
    estimate,
)
from tests.conftest import wait_for

CLI = [sys.executable, "-m", "exodus2045.scenarios.cli"]
TOKEN = "a-join-token-for-clock-tests-0123456789"
SKEW_S = 3.0


def test_a_sample_is_the_workers_reading_minus_the_midpoint_of_the_round_trip():
    sample = Sample(t0=100.0, tw=105.02, t1=100.04)
    assert sample.rtt_s == pytest.approx(0.04)
    assert sample.offset_s == pytest.approx(5.0)


def test_the_estimate_keeps_the_sample_with_the_smallest_round_trip():
    samples = [Sample(0.0, 2.3, 0.6),  # queued on the way: offset looks 2.0, rtt 0.6
               Sample(1.0, 3.51, 1.02),  # the clean one: offset 2.5, rtt 0.02
               Sample(2.0, 4.9, 2.2),
               Sample(3.0, 9.0, 2.9)]  # the master's clock stepped back: ignored
    best = estimate(samples)
    assert best is not None
    assert best.offset_s == pytest.approx(2.5) and best.rtt_s == pytest.approx(0.02)
    assert best.uncertainty_s == pytest.approx(0.01) and best.samples == 3
    assert estimate([]) is None and estimate([Sample(1.0, 1.0, 0.5)]) is None


def test_the_book_pings_in_a_burst_then_periodically_and_reports_only_better_estimates():
    book = ClockBook(clock=lambda: 0.0)
    now = 10.0
    for i in range(BURST):
        assert book.due("w", now)
        book.pinged("w", now)
        assert not book.due("w", now)
        first = book.add("w", Sample(now, now + 1.0 + 0.05 - 0.01 * i, now + 0.1 - 0.02 * i))
        assert first is not None  # each round trip shorter than the last: a better estimate
        now += 0.1
    assert not book.due("w", now) and book.due("w", now + PERIOD_S)
    assert book.add("w", Sample(now, now + 7.0, now + 1.0)) is None  # worse: kept the best
    summary = book.summary()["w"]
    assert summary["samples"] == BURST + 1
    assert summary["offset_s"] == pytest.approx(1.0, abs=1e-6)


def test_a_worker_clock_is_skewed_by_its_config_and_corrected_by_the_offset():
    clock = WorkerClock(SwarmWorkerConfig(clock_skew_s=-40.0))
    import time

    before = time.time()
    assert clock.raw() == pytest.approx(before - 40.0, abs=0.5)
    assert clock.now() == pytest.approx(before - 40.0, abs=0.5) and clock.offset_s is None
    clock.correct(-40.0)
    assert clock.now() == pytest.approx(time.time(), abs=0.5)


def test_the_skew_setting_is_read_from_the_environment_and_checked():
    assert SwarmWorkerConfig.from_env({}).clock_skew_s == 0.0
    assert SwarmWorkerConfig.from_env({"EXODUS_SWARM_CLOCK_SKEW": "-1.5"}).clock_skew_s == -1.5
    with pytest.raises(Exception, match="EXODUS_SWARM_CLOCK_SKEW"):
        SwarmWorkerConfig.from_env({"EXODUS_SWARM_CLOCK_SKEW": "soon"})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_a_worker_whose_clock_is_off_is_measured_and_its_ledger_put_on_the_masters_clock(
        tmp_path):
    scenario = tmp_path / "clock.toml"
    scenario.write_text(textwrap.dedent("""
        name = "clock"
        seed = 11
        [stack]
        parsers = 1
        pod_workers = 1
        [load]
        evacuees = 160
        arrival_rate = 40
        max_in_flight = 16
        infiltrator_share = 0.1
        [slo]
        submit_p95_ms = 5000
        error_ratio = 0.05
        e2e_p95_s = 30
        drain_within = "30s"
    """))
    out, port = tmp_path / "run", _free_port()
    env = {**os.environ, "EXODUS_JOIN_TOKEN": TOKEN}
    env.pop("EXODUS_SWARM_CLOCK_SKEW", None)
    skewed = {**env, "EXODUS_SWARM_CLOCK_SKEW": str(SKEW_S)}
    procs = [subprocess.Popen([*CLI, "run", str(scenario), "--workers", "1", "--expect-workers",
                               "1", "--master-bind-port", str(port), "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)]
    try:
        wait_for(lambda: (out / "locust.log").is_file(), timeout=120, what="the master")
        procs.append(subprocess.Popen([*CLI, "swarm", "worker", "--master", f"127.0.0.1:{port}"],
                                      env=skewed, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        output, _ = procs[0].communicate(timeout=300)
        assert procs[0].returncode == 0, output[-3000:]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    swarm = json.loads((out / "swarm.json").read_text())
    assert swarm["workers"] == 2 and swarm["complete"] is True
    offsets = sorted(c["offset_s"] for c in swarm["clocks"].values())
    assert len(offsets) == 2
    assert abs(offsets[0]) < 0.25, swarm["clocks"]  # the local worker: the same clock
    assert abs(offsets[1] - SKEW_S) < 0.25, swarm["clocks"]  # the skewed one, found
    lines = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    stored = {w["wish_id"]: w for w in map(json.loads,
                                           (out / "store-snapshot.jsonl").read_text().splitlines())}
    acked = [line for line in lines if line["status"] == 202]
    assert len(acked) > 100
    for line in acked:  # on the master's clock: uncorrected, a skewed line is 3 s ahead
        gap = stored[line["wish_id"]]["accepted_at"] - line["sent_at"]
        assert -0.05 < gap < line["latency_ms"] / 1000.0 + 0.05, line
    assert min(line["sent_at"] for line in lines) >= swarm["t0"] - 0.05  # none went out early
    assert json.loads((out / "verdict.json").read_text())["outcome"] == "sound"
    for report in ("summary.md", "report.html"):  # each worker's offset, in the report
        shown = [float(x) for x in re.findall(r"clock offset [^:<]+(?::|</dt><dd>) ?([+-][\d.]+) s",
                                              (out / report).read_text())]
        assert sorted(shown) == pytest.approx(offsets, abs=0.001), report
