"""The swarm for real: headless Locust subprocesses against the stand-in frontend."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from exodus2045.app_under_test.runkey import ENV_RUN_KEY
from exodus2045.locustfiles.generate import SwarmPlan, build_pools, plan_wish
from exodus2045.locustfiles.ledger import FIELDS, read_ledger
from tests.swarm_fixtures import (
    StandIn,
    free_port,
    locust_cmd,
    run_locust,
    stop_process,
    verdict_for,
    wait_for,
)

SEED = 7


def _swarm_args(url: str, ledger: Path, evacuees: int, run_id: str, users: int = 40) -> list[str]:
    return [
        "-u", str(users), "-r", str(users), "--host", url, "--evacuees", str(evacuees),
        "--arrival-rate", "1000", "--run-id", run_id, "--ledger", str(ledger),
        "--seed", str(SEED), "--infiltrator-share", "0.2",
    ]  # fmt: skip


def _by_wish(ledger: Path) -> dict[str, list[dict]]:
    attempts: dict[str, list[dict]] = defaultdict(list)
    for line in read_ledger(ledger):
        assert tuple(line) == FIELDS
        attempts[line["wish_id"]].append(line)
    return attempts


def _check_ledger_against_plan(ledger: Path, run_id: str, evacuees: int) -> dict[str, list[dict]]:
    """Every evacuee exactly once, each line what the plan says, one ack per legal wish."""
    attempts = _by_wish(ledger)
    plan = SwarmPlan(seed=SEED, run_id=run_id, evacuees=evacuees, infiltrator_share=0.2)
    pools = build_pools(SEED)
    assert sorted(lines[0]["n"] for lines in attempts.values()) == list(range(evacuees))
    ids = list(attempts)
    assert all(uuid.UUID(i).version == 4 for i in ids) and len(set(ids)) == evacuees
    for wish_id, lines in attempts.items():
        wish = plan_wish(plan, lines[0]["n"], pools)
        # the id comes from the run's 128-bit secret, not from the (seed, run id) anyone
        # can guess: the audit re-plans bodies by n, never ids
        assert wish.wish_id != wish_id
        assert [line["attempt"] for line in lines] == list(range(1, len(lines) + 1))
        for line in lines:
            assert line["run_id"] == run_id and line["n"] == wish.n
            assert (line["kind"], line["destination"]) == (wish.kind, wish.destination)
            assert (line["payload"], line["expect"]) == (wish.payload, wish.expect)
            assert line["sent_at"] >= line["intended_at"] - 0.05
            assert line["response_ms"] >= line["latency_ms"] - 1.0
        acks = [line for line in lines if line["status"] == 202]
        if wish.expect == "accept":
            assert len(acks) == 1 and lines[-1]["status"] == 202, lines
        else:
            assert not acks and 400 <= lines[-1]["status"] < 500, lines
    return attempts


def test_headless_swarm_sends_exactly_n_wishes_and_ledgers_them(tmp_path: Path) -> None:
    ledger = tmp_path / "run" / "ledger.jsonl"
    key = b"K" * 32
    with StandIn(run_key=key) as frontend:
        done = run_locust(_swarm_args(frontend.url, ledger, 300, "r-local"), cwd=tmp_path,
                          env={ENV_RUN_KEY: key.hex()})
        seen = list(frontend.seen)
    assert done.returncode == 0, done.stderr[-3000:]
    attempts = _check_ledger_against_plan(ledger, "r-local", 300)
    assert len(seen) == 300 == sum(len(v) for v in attempts.values())
    assert {s.run_header for s in seen} == {"r-local"}
    assert {s.signed for s in seen} == {True}, "every request, infiltrators too, is signed"
    plan = SwarmPlan(seed=SEED, run_id="r-local", evacuees=300, infiltrator_share=0.2)
    pools = build_pools(SEED)
    n_of = {wish_id: lines[0]["n"] for wish_id, lines in attempts.items()}
    assert all(plan_wish(plan, n_of[s.wish_id], pools).user_agent == s.user_agent
               for s in seen if s.wish_id)
    assert key.hex() not in (ledger.parent / "swarm.json").read_text()
    assert key.hex() not in ledger.read_text()
    summary = json.loads((ledger.parent / "swarm.json").read_text())
    expected = Counter(lines[-1]["expect"] for lines in attempts.values())
    assert summary["run_id"] == "r-local" and summary["seed"] == SEED
    assert (summary["sent"], summary["finished"], summary["dropped"]) == (300, 300, 0)
    assert summary["acknowledged"] == expected["accept"]
    assert summary["rejected"] == expected["reject"] > 0
    assert summary["errors"] == summary["unexpected"] == 0 and summary["complete"] is True
    assert summary["response_ms"]["p99"] is not None
    assert summary["started_at"] <= summary["ended_at"]


def _every_fifth(wish_id: str) -> bool:
    return hashlib.sha256(wish_id.encode()).digest()[0] % 5 == 0


def test_503_is_retried_with_the_same_wish_id(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    with StandIn(fail_first=_every_fifth) as frontend:
        done = run_locust(_swarm_args(frontend.url, ledger, 120, "r-retry", 20), cwd=tmp_path)
        failed_once = set(frontend.failed_once)
    assert done.returncode == 0, done.stderr[-3000:]
    attempts = _check_ledger_against_plan(ledger, "r-retry", 120)
    assert failed_once, "the stand-in should have refused some first attempts"
    for wish_id in failed_once:
        assert [line["status"] for line in attempts[wish_id]] == [503, 202]
    retried = {w for w, lines in attempts.items() if len(lines) > 1}
    assert retried == failed_once
    summary = json.loads((tmp_path / "swarm.json").read_text())
    assert summary["attempts"] == 120 + len(failed_once) and summary["errors"] == 0


def test_connection_errors_are_status_0_and_retried_three_times(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens here
    done = run_locust(_swarm_args(url, ledger, 4, "r-down", 4), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    attempts = _by_wish(ledger)
    assert len(attempts) == 4
    for lines in attempts.values():
        assert [(line["attempt"], line["status"]) for line in lines] == [(1, 0), (2, 0), (3, 0)]
    summary = json.loads((tmp_path / "swarm.json").read_text())
    assert (summary["errors"], summary["acknowledged"], summary["complete"]) == (4, 0, True)


def test_master_and_two_workers_keep_the_total_exact(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    master_port = free_port()
    procs: list[subprocess.Popen] = []
    key = b"D" * 32
    with StandIn(run_key=key) as frontend:
        try:
            master = subprocess.Popen(
                locust_cmd(
                    "--headless", "--master", "--expect-workers", "2", "--master-bind-host",
                    "127.0.0.1", "--master-bind-port", str(master_port), "--run-time", "40s",
                    *_swarm_args(frontend.url, ledger, 300, "r-dist"),
                ),  # fmt: skip
                cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**os.environ, ENV_RUN_KEY: key.hex()},
            )  # fmt: skip
            procs.append(master)
            for _ in range(2):
                procs.append(
                    subprocess.Popen(
                        locust_cmd("--worker", "--master-host", "127.0.0.1",
                                   "--master-port", str(master_port)),
                        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )
                )  # fmt: skip
            _, err = master.communicate(timeout=90)
            wait_for(lambda: all(p.poll() is not None for p in procs), 20, "workers to quit")
        finally:
            for proc in procs:
                stop_process(proc)
        seen = list(frontend.seen)
    assert master.returncode == 0, err[-3000:]
    _check_ledger_against_plan(ledger, "r-dist", 300)
    assert len(seen) == 300
    assert {s.signed for s in seen} == {True}, "workers got the run key by a Locust message"
    summary = json.loads((tmp_path / "swarm.json").read_text())
    assert (summary["role"], summary["workers"]) == ("master", 2)
    assert (summary["sent"], summary["finished"], summary["complete"]) == (300, 300, True)


def test_stand_in_agrees_with_itself_about_a_plain_wish() -> None:
    """Guard for the fixtures: a legal wish is 202, the same bytes as text/plain are 415."""
    body = b'{"evacuee":"Ada","destination":"Mars","message":"hi"}'
    assert verdict_for(body, "application/json") == 202
    assert verdict_for(body, "text/plain") == 415


def test_a_run_cut_short_ledgers_everything_it_sent(tmp_path: Path) -> None:
    """``--run-time`` ends the swarm early: in-flight answers are kept, nothing new is sent."""
    ledger = tmp_path / "ledger.jsonl"
    args = _swarm_args("", ledger, 2000, "r-cut", 10)
    args[args.index("--arrival-rate") + 1] = "100"  # 20 s of arrivals, cut after 2
    with StandIn() as frontend:
        args[args.index("--host") + 1] = frontend.url
        done = subprocess.run(
            locust_cmd("--headless", "--run-time", "2s", "--stop-timeout", "5", *args),
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        seen = list(frontend.seen)
    assert done.returncode == 1, "an incomplete swarm is not a sound exit"
    attempts = _by_wish(ledger)
    assert len(seen) == sum(len(lines) for lines in attempts.values()), "every request ledgered"
    assert {s.wish_id for s in seen if s.wish_id} <= set(attempts)
    summary = json.loads((tmp_path / "swarm.json").read_text())
    assert summary["complete"] is False and summary["unfinished"] == 0
    assert summary["sent"] == len(attempts) < 2000
    assert summary["dropped"] == 2000 - len(attempts)


def test_ctrl_c_keeps_every_answered_request_in_the_ledger(tmp_path: Path) -> None:
    """SIGINT (how the runner interrupts) fires ``quitting`` before users stop: no line lost."""
    ledger = tmp_path / "ledger.jsonl"
    args = _swarm_args("", ledger, 5000, "r-sigint", 30)
    args[args.index("--arrival-rate") + 1] = "300"
    with StandIn(delay_s=0.05) as frontend:
        args[args.index("--host") + 1] = frontend.url
        proc = subprocess.Popen(
            locust_cmd("--headless", "--run-time", "30s", "--stop-timeout", "5", *args),
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for(lambda: len(frontend.seen) >= 100, 30, "the swarm to get going")
            proc.send_signal(signal.SIGINT)
            returncode = proc.wait(timeout=30)
        finally:
            stop_process(proc)
        seen = list(frontend.seen)
    assert returncode == 1, "an interrupted swarm is not complete"
    attempts = _by_wish(ledger)
    assert len(seen) == sum(len(lines) for lines in attempts.values())
    summary = json.loads((tmp_path / "swarm.json").read_text())
    assert summary["sent"] == len(attempts) and summary["complete"] is False
    assert summary["unfinished"] == 0, "requests in flight at Ctrl-C finished and were ledgered"


def test_bench_swarm_prints_its_figures_on_one_json_line() -> None:
    """``exodus bench swarm --json``: the contract's three figures first, and wall-clock ones."""
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "bench", "swarm", "--json", "--seconds", "1",
         "--rounds", "1", "--users", "8"],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(figures)[:3] == ["evacuee_rps", "bare_rps", "ratio"]
    assert figures["evacuee_rps"] > 0 and figures["bare_rps"] > 0
    assert figures["ratio"] == pytest.approx(
        figures["evacuee_rps"] / figures["bare_rps"], abs=0.002
    )
    assert figures["evacuee_wall_rps"] > 0 and figures["bare_wall_rps"] > 0
    assert {"wall_ratio", "late_s"} <= figures.keys()
