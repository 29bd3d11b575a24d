"""``exodus run --workers N``: a Locust master and local workers, one exact ledger.

The merged ledger is compared with the plan line by line; a worker killed -9 mid-run is
noticed by heartbeat and the verdict is honest (never sound, nothing it acknowledged lost);
Ctrl-C on the master loses no line a worker wrote.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from exodus2045.locustfiles.generate import SwarmPlan, build_pools, plan_wish
from exodus2045.scenarios.distributed import merge_spills
from tests.conftest import wait_for

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "exodus2045.scenarios.cli"]
SEED = 14


def _scenario(tmp_path: Path, evacuees: int, rate: float) -> Path:
    path = tmp_path / "dist.toml"
    path.write_text(textwrap.dedent(f"""
        name = "dist"
        seed = {SEED}
        [stack]
        parsers = 1
        pod_workers = 1
        [load]
        evacuees = {evacuees}
        arrival_rate = {rate}
        max_in_flight = 16
        infiltrator_share = 0.1
        [slo]
        submit_p95_ms = 5000
        error_ratio = 0.05
        e2e_p95_s = 30
        drain_within = "30s"
    """))
    return path


def _ledger(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]


def _lines_so_far(out: Path) -> int:
    """Complete lines of a ledger still being written (its last line may be half there)."""
    path = out / "ledger.jsonl"
    return path.read_bytes().count(b"\n") if path.is_file() else 0


def _workers_of(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True)
            if "--worker" in p.cmdline()]


def test_two_workers_give_one_exact_ledger_and_a_sound_verdict(tmp_path):
    out = tmp_path / "run"
    result = subprocess.run([*CLI, "run", str(_scenario(tmp_path, 200, 40)), "--workers", "2",
                             "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert (verdict["outcome"], verdict["complete"]) == ("sound", True)
    swarm = json.loads((out / "swarm.json").read_text())
    assert (swarm["role"], swarm["workers"], swarm["workers_lost"]) == ("master", 2, [])
    run = json.loads((out / "run.json").read_text())
    run_id = run["run_id"]
    # the master mints its t0 (a lead after its workers are in) and answers the go with it:
    # the run's zero, and the chaos schedule's, is when its first evacuee is due
    assert run["started_at"] == pytest.approx(swarm["t0"], abs=1e-5)
    plan = SwarmPlan(seed=SEED, run_id=run_id, evacuees=200, infiltrator_share=0.1)
    pools = build_pools(SEED)
    lines = _ledger(out)
    assert sorted(line["n"] for line in lines if line["attempt"] == 1) == list(range(200))
    by_n: dict[int, list[dict]] = {}
    for line in lines:
        by_n.setdefault(line["n"], []).append(line)
    for n, attempts in by_n.items():
        wish = plan_wish(plan, n, pools)
        assert sorted(a["attempt"] for a in attempts) == list(range(1, len(attempts) + 1))
        # wish ids come from the run's 128-bit secret, not the seed (docs/architecture.md
        # "Scope of a run"): every attempt of one evacuee carries the same one
        assert len({line["wish_id"] for line in attempts}) == 1, attempts
        for line in attempts:
            assert (line["run_id"], line["kind"], line["destination"], line["payload"],
                    line["expect"]) == (
                run_id, wish.kind, wish.destination, wish.payload, wish.expect)
        acks = [a for a in attempts if a["status"] == 202]
        assert len(acks) == (1 if wish.expect == "accept" else 0), attempts
    assert len({line["wish_id"] for line in lines}) == 200  # one id per evacuee, none shared
    spilled = sum(len(f.read_text().splitlines()) for f in (out / "workers").glob("*.jsonl"))
    assert spilled == len(lines)  # every line a worker wrote is in the merged ledger


def test_a_worker_killed_9_ends_the_run_unproven_and_loses_no_acknowledged_line(tmp_path):
    out = tmp_path / "run"
    run = subprocess.Popen([*CLI, "run", str(_scenario(tmp_path, 200, 10)), "--workers", "2",
                            "--out", str(out)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _lines_so_far(out) >= 20,
                 timeout=120, what="both workers to be sending")
        victim = _workers_of(run.pid)[0]
        victim.kill()
        killed_at = time.time()
        output, _ = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 1, output[-3000:]
    swarm = json.loads((out / "swarm.json").read_text())
    assert len(swarm["workers_lost"]) == 1 and swarm["complete"] is False
    assert swarm["ended_at"] - killed_at < 10, "the dead worker was not noticed in seconds"
    verdict = json.loads((out / "verdict.json").read_text())
    assert (verdict["outcome"], verdict["complete"], verdict["sound"]) == (
        "unproven", False, False)
    checks = {c["id"]: c["status"] for c in verdict["checks"]}
    assert checks["no-phantoms"] == "passed" and checks["exactly-once"] == "passed"
    assert len({line["n"] for line in _ledger(out)}) < 200  # its unsent evacuees: not sent


def test_ctrl_c_on_the_master_loses_no_line_a_worker_wrote(tmp_path):
    out = tmp_path / "run"
    run = subprocess.Popen([*CLI, "run", str(_scenario(tmp_path, 200, 10)), "--workers", "2",
                            "--out", str(out)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: _lines_so_far(out) >= 20,
                 timeout=120, what="the workers to be sending")
        run.send_signal(signal.SIGINT)
        output, _ = run.communicate(timeout=180)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 2, output[-3000:]
    ledger = set((out / "ledger.jsonl").read_text().splitlines())
    for spill in (out / "workers").glob("*.jsonl"):
        assert set(spill.read_text().splitlines()) <= ledger
    assert json.loads((out / "verdict.json").read_text())["outcome"] == "interrupted"


def test_merge_spills_appends_only_whole_missing_lines(tmp_path):
    (tmp_path / "workers").mkdir()
    (tmp_path / "ledger.jsonl").write_text('{"a":1}\n')
    (tmp_path / "workers" / "w1.jsonl").write_text('{"a":1}\n{"b":2}\n{"cut')
    (tmp_path / "workers" / "w2.jsonl").write_text('{"c":3}\n')
    assert merge_spills(tmp_path) == 2
    assert (tmp_path / "ledger.jsonl").read_text() == '{"a":1}\n{"b":2}\n{"c":3}\n'
    assert merge_spills(tmp_path) == 0
