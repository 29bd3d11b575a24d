"""``exodus bench frontend`` runs end to end and reports its figures (never judged on speed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from exodus2045.app_under_test.wish import validate_submission
from exodus2045.scenarios.benchmarks.frontend import id_prefix, wish_body


def test_the_benchmark_client_sends_distinct_valid_wishes() -> None:
    prefix = id_prefix()
    bodies = [json.loads(wish_body(n, prefix)) for n in (0, 1, 2**40)]
    clean = [validate_submission(b) for b in bodies]
    assert len({c["wish_id"] for c in clean}) == 3
    assert [c["wish_id"] for c in clean] == [b["wish_id"] for b in bodies]  # canonical UUIDs


def test_bench_frontend_prints_one_json_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "bench", "frontend", "--json",
         "--seconds", "0.5", "--connections", "4", "--rounds", "1"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"accept_per_s", "healthz_per_s", "ratio"} <= figures.keys()
    assert figures["accept_per_s"] > 0 and figures["healthz_per_s"] > 0
    expected = figures["accept_per_s"] / figures["healthz_per_s"]
    assert figures["ratio"] == pytest.approx(expected, abs=0.002)
    assert figures["accept_errors"] == 0 and figures["healthz_errors"] == 0
    if sys.platform == "linux":  # server CPU per request, read from /proc
        assert figures["accept_server_cpu_us"] > 0 and figures["healthz_server_cpu_us"] > 0
