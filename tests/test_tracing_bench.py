"""``exodus bench tracing`` runs end to end and reports its figures (never judged on speed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from exodus2045.scenarios.benchmarks.tracing import MODES, _rotated, mode_env, round_ratios


def test_the_modes_differ_only_in_tracing_and_rotate() -> None:
    assert mode_env("off", 0.1) == {"EXODUS_TRACING": "off"}
    assert mode_env("sampled", 0.1)["EXODUS_TRACE_SAMPLE"] == "0.1"
    assert mode_env("full", 0.1)["EXODUS_TRACE_SAMPLE"] == "1.0"
    assert {_rotated(n)[0] for n in range(3)} == set(MODES)
    rounds = [{"off": 100, "sampled": 95, "full": 70}, {"off": 50, "sampled": 49, "full": 40},
              {"off": 80, "sampled": 60, "full": 60}]
    figures = round_ratios("accept", rounds)
    assert figures["accept_ratio_sampled"] == 0.95  # the median round, not the total
    assert (figures["accept_ratio_sampled_min"], figures["accept_ratio_sampled_max"]) == \
        (0.75, 0.98)


@pytest.mark.slow
def test_bench_tracing_prints_one_json_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "bench", "tracing", "--json",
         "--seconds", "0.6", "--connections", "4", "--rounds", "1", "--wishes", "60"],
        capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    for mode in MODES:
        assert figures[f"accept_per_s_{mode}"] > 0 and figures[f"accept_errors_{mode}"] == 0
        assert figures[f"drain_per_s_{mode}"] > 0
    assert figures["drain_wishes"] == 60 and figures["sample"] == 0.1
    assert figures["accept_cpu_ratio_off"] == 1.0
    for phase in ("accept", "drain"):
        ratio = figures[f"{phase}_ratio_full"]
        assert figures[f"{phase}_ratio_full_min"] <= ratio <= figures[f"{phase}_ratio_full_max"]
