"""The runner's go: Locust loads beside the stack and sends nothing before it is told where
and when (locustfiles/go.py, scenarios/swarm_process.py ``wait_for_go``)."""

from __future__ import annotations

import argparse
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from exodus2045.app_under_test.runkey import ENV_RUN_KEY
from exodus2045.locustfiles.go import (
    GO_ANSWER,
    READY,
    NoGo,
    answer_go,
    go_line,
    parse_answer,
    parse_go,
    read_go,
)
from exodus2045.locustfiles.ledger import read_ledger
from exodus2045.scenarios.scenario import load_scenario
from exodus2045.scenarios.swarm_process import SwarmFailed, SwarmProcess, locust_command
from tests.swarm_fixtures import StandIn

KEY = b"G" * 32


def test_the_swarm_answers_the_t0_its_run_is_on_once() -> None:
    ours, theirs = socket.socketpair()
    options = argparse.Namespace(**{GO_ANSWER: theirs.detach()})
    with ours:
        assert answer_go(options, 12.5) is True
        assert ours.recv(64) == b'{"t0": 12.5}\n' and ours.recv(64) == b""  # then closed
    assert answer_go(options, 13.0) is False  # once
    assert answer_go(argparse.Namespace(), 1.0) is False  # no go, nothing to answer


@pytest.mark.parametrize("answer", [b"", b"{}", b'{"t0": "soon"}', b'{"t0": NaN}', b"[]"])
def test_an_answer_that_is_not_a_t0_leaves_the_runner_on_its_own(answer: bytes) -> None:
    assert parse_answer(answer) is None
    assert parse_answer(b'{"t0": 7}\n') == 7.0


@pytest.mark.parametrize("line", [
    b"", b"go", b"[]", b'{"t0": 1.0}', b'{"host": "127.0.0.1:80", "t0": 1.0}',
    b'{"host": 8080}', b'{"host": "http://h", "t0": true}', b'{"host": "http://h", "t0": "1"}',
    b'{"host": "http://h", "t0": NaN}',
])
def test_anything_but_a_go_line_is_no_go(line: bytes) -> None:
    with pytest.raises(NoGo):
        parse_go(line)


def test_a_go_line_names_the_host_and_an_optional_t0() -> None:
    assert parse_go(go_line("http://127.0.0.1:9", 3.25).rstrip()) == {
        "host": "http://127.0.0.1:9", "t0": 3.25}
    assert parse_go(b'{"host": "http://127.0.0.1:9/x", "t0": 12}') == {
        "host": "http://127.0.0.1:9/x", "t0": 12.0}
    assert parse_go(b'{"host": "https://h"}') == {"host": "https://h", "t0": None}


def test_the_swarm_says_ready_then_reads_the_go_and_keeps_its_end_for_the_answer() -> None:
    ours, theirs = socket.socketpair()
    with ours:
        ours.sendall(b'{"host": "http://127.0.0.1:1", "t0": 5.5}\n')
        fd = theirs.detach()
        assert read_go(fd) == {"host": "http://127.0.0.1:1", "t0": 5.5}
        assert ours.recv(64) == READY
        assert answer_go(argparse.Namespace(**{GO_ANSWER: fd}), 5.5)
        assert ours.recv(64) == b'{"t0": 5.5}\n' and ours.recv(64) == b""


def test_end_of_file_before_a_whole_line_is_no_go() -> None:
    ours, theirs = socket.socketpair()
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(read_go, theirs.detach())
        assert ours.recv(64) == READY
        ours.sendall(b'{"host": "http://127.0.0.1:1"')  # cut short: the runner died mid-line
        ours.close()
        with pytest.raises(NoGo, match="closed the go socket"):
            waiting.result(timeout=30)


def test_a_runner_gone_before_the_swarm_is_ready_is_no_go() -> None:
    ours, theirs = socket.socketpair()
    ours.close()
    with pytest.raises(NoGo, match="go socket is closed"):
        read_go(theirs.detach())


def _swarm(tmp_path: Path, evacuees: int = 40) -> tuple[SwarmProcess, Path]:
    scenario = load_scenario("smoke")
    scenario = replace(scenario, load=replace(scenario.load, evacuees=evacuees,
                                              arrival_rate=200.0))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cmd = locust_command(scenario, None, "r-go", run_dir)
    assert "--host" not in cmd
    return SwarmProcess(cmd, run_dir / "locust.log", extra_env={ENV_RUN_KEY: KEY.hex()},
                        wait_for_go=True), run_dir


@pytest.mark.slow
def test_a_swarm_told_to_go_starts_at_the_runners_t0_and_sends_everything(tmp_path):
    # GIVEN Locust started with no target, and a frontend that comes up only afterwards
    swarm, run_dir = _swarm(tmp_path)
    try:
        with StandIn(run_key=KEY) as frontend:
            # WHEN it is ready and told where and when
            swarm.wait_ready()
            assert frontend.seen == []  # loaded, waiting: nothing sent yet
            t0 = time.time()
            answered = swarm.go(frontend.url, t0)  # once its run has begun: on that t0
            code = swarm.wait(timeout=120)
            seen = len(frontend.seen)
    finally:
        swarm.interrupt()
    # THEN it ran against that host, on that clock, and sent every evacuee once
    assert code == 0, (run_dir / "locust.log").read_text()[-2000:]
    summary = json.loads((run_dir / "swarm.json").read_text())
    assert answered == t0 and summary["t0"] == pytest.approx(t0, abs=1e-6)  # chaos's too
    lines = list(read_ledger(run_dir / "ledger.jsonl"))
    assert len({line["n"] for line in lines}) == 40 == summary["sent"] == seen
    assert min(line["intended_at"] for line in lines) >= t0 - 1e-6  # written to the µs


@pytest.mark.slow
def test_a_swarm_never_told_to_go_exits_having_sent_nothing(tmp_path):
    swarm, run_dir = _swarm(tmp_path)
    with StandIn(run_key=KEY) as frontend:
        swarm.wait_ready()
        swarm.interrupt(grace_s=30)  # the stack did not come up: no go, end of file instead
        assert frontend.seen == []
    assert swarm.poll() == 2
    assert not (run_dir / "ledger.jsonl").exists()
    assert "not started" in (run_dir / "locust.log").read_text()


@pytest.mark.slow
def test_a_locust_that_cannot_start_is_a_clear_error_before_anything_waits_on_it(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    cmd = [*locust_command(load_scenario("smoke"), None, "r-go", run_dir), "--no-such-option"]
    swarm = SwarmProcess(cmd, run_dir / "locust.log", wait_for_go=True)
    try:
        with pytest.raises(SwarmFailed, match=r"Locust exited before its start \(exit \d+\); "
                                              r"see .*locust\.log"):
            swarm.wait_ready()
    finally:
        swarm.interrupt()
