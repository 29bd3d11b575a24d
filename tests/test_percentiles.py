"""The one percentile: nearest-rank, pinned value by value, and used by every caller."""

from __future__ import annotations

import pytest

from exodus2045.locustfiles.percentiles import percentile, percentiles
from exodus2045.locustfiles.tally import spread
from exodus2045.scenarios.swarm_process import LedgerTail

TEN = [float(v) for v in (10, 1, 9, 2, 8, 3, 7, 4, 6, 5)]  # 1..10, shuffled


@pytest.mark.parametrize(
    ("q", "value"),
    [(0, 1.0), (1, 1.0), (10, 1.0), (10.1, 2.0), (50, 5.0), (50.5, 6.0), (90, 9.0),
     (95, 10.0), (99, 10.0), (100, 10.0)],
)
def test_nearest_rank_of_one_to_ten(q: float, value: float):
    """Rank ceil(q/100 * n), at least 1: always an observed value, never an interpolation."""
    assert percentile(TEN, q) == value


def test_small_and_empty_inputs():
    assert percentile([], 95) is None
    assert percentile([7.0], 50) == percentile([7.0], 95) == 7.0
    assert percentile([1, 2, 3, 4], 50) == 2 and percentile([1, 2, 3, 4], 51) == 3
    assert percentile(iter([3.0, 1.0, 2.0]), 50) == 2.0  # any iterable, sorted once


def test_percentiles_round_and_name_their_keys():
    assert percentiles([1.23456, 2.5, 3.0]) == {"p50": 2.5, "p95": 3.0, "p99": 3.0}
    assert percentiles([0.0004, 0.0006], qs=(50, 99.9)) == {"p50": 0.0, "p99.9": 0.001}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}


def test_the_live_p95_and_the_swarm_tally_agree_with_the_audit(tmp_path):
    """The live view once took rank int(0.95 * (n - 1)) (9 of 1..10, not 10): no longer."""
    tail = LedgerTail(tmp_path / "ledger.jsonl")
    tail.latencies = list(TEN)
    assert tail.p95_ms() == percentile(TEN, 95) == 10.0
    assert spread(TEN) == {"p50": 5.0, "p95": 10.0, "p99": 10.0, "max": 10.0}
    assert LedgerTail(tmp_path / "none.jsonl").p95_ms() == 0.0
