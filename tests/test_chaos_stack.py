"""Faults on a real stack run by the Supervisor: kill, hold, pause, poison, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.settings import StackConfig
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.app_under_test.supervisor import Supervisor
from exodus2045.chaos.board import ActiveFault, FaultBoard
from exodus2045.chaos.processes import process_state
from exodus2045.chaos.schedule import ChaosSchedule
from exodus2045.chaos.stack import chaos_supervisor
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.timeline import FIELDS, read_timeline
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    root = tmp_path_factory.mktemp("chaos-stack") / "state"
    config = StackConfig(state_dir=root, host="127.0.0.1", port=0, frontends=1, parsers=2,
                         pod_workers=1)
    supervisor = chaos_supervisor(config)
    supervisor.start()
    try:
        wait_for(lambda: all(component(supervisor.state, c)["pid"]
                             for c in ("parser:0", "parser:1", "pod-worker:0")),
                 timeout=30, what="parsers and the pod worker to run")
        yield supervisor
    finally:
        supervisor.stop()


def component(state: StateDir, name: str) -> dict:
    return next(c for c in state.read_stack()["components"] if c["name"] == name)


def run_steps(stack: Supervisor, tmp_path: Path, *steps: ChaosStep, quiet_s: float = 20) -> list:
    path = tmp_path / "timeline.jsonl"
    schedule = ChaosSchedule(steps, stack.state, path, time.time(), seed=3)
    schedule.start()
    try:
        assert schedule.wait_until_quiet(timeout_s=quiet_s)
    finally:
        schedule.stop()
    lines = read_timeline(path)
    assert all(tuple(line) == FIELDS and line["source"] == "scenario" for line in lines)
    return lines


def test_a_single_kill_is_restarted_by_the_supervisor(stack: Supervisor, tmp_path: Path) -> None:
    before = component(stack.state, "parser:0")
    lines = run_steps(stack, tmp_path, ChaosStep(at_s=0, fault="kill", target="parser:0"))
    assert [(x["event"], x["fault"], x["target"]) for x in lines] == [
        ("on", "kill", "parser:0"), ("off", "kill", "parser:0")]
    assert lines[0]["params"]["components"] == ["parser:0"]
    after = wait_for(lambda: (c := component(stack.state, "parser:0"))["pid"] not in
                     (None, before["pid"]) and c, timeout=10, what="the restart")
    assert after["restarts"] == before["restarts"] + 1
    assert component(stack.state, "parser:1")["pid"] is not None, "only parser:0 was hit"


def test_a_kill_with_duration_holds_the_component_down(stack: Supervisor, tmp_path: Path) -> None:
    before = component(stack.state, "parser:1")
    path = tmp_path / "timeline.jsonl"
    schedule = ChaosSchedule([ChaosStep(at_s=0, fault="kill", target="parser:1",
                                        duration_s=1.5)], stack.state, path, time.time(), seed=3)
    schedule.start()
    try:
        wait_for(lambda: component(stack.state, "parser:1")["state"] == "held", timeout=5,
                 what="the hold")
        assert process_state(before["pid"]) is None, "the held process was killed"
        assert component(stack.state, "parser:0")["state"] == "running"
        assert schedule.wait_until_quiet(timeout_s=10)
    finally:
        schedule.stop()
    after = wait_for(lambda: (c := component(stack.state, "parser:1"))["state"] == "running"
                     and c["pid"] and c, timeout=10, what="the release")
    assert after["pid"] != before["pid"]
    on, off = read_timeline(path)
    assert (on["event"], off["event"], on["params"]["duration_s"]) == ("on", "off", 1.5)
    assert 1.4 <= off["t"] - on["t"] < 3


def test_pause_stops_the_process_and_resumes_it(stack: Supervisor, tmp_path: Path) -> None:
    before = component(stack.state, "pod-worker:0")
    path = tmp_path / "timeline.jsonl"
    schedule = ChaosSchedule([ChaosStep(at_s=0, fault="pause", target="pod-worker:0",
                                        duration_s=1.0)], stack.state, path, time.time(), seed=3)
    schedule.start()
    try:
        wait_for(lambda: process_state(before["pid"]) == "T", timeout=5, what="SIGSTOP")
        assert schedule.wait_until_quiet(timeout_s=10)
    finally:
        schedule.stop()
    assert process_state(before["pid"]) not in ("T", None), "SIGCONT'd and still alive"
    assert component(stack.state, "pod-worker:0")["pid"] == before["pid"], "paused, not restarted"
    on, off = read_timeline(path)
    assert on["params"]["components"] == ["pod-worker:0"] and off["params"]["resumed"] == 1


def test_poison_lands_in_the_dlq_with_its_reasons(stack: Supervisor, tmp_path: Path) -> None:
    backend = open_local(stack.state)
    try:
        before_w, before_p = len(backend.wishes.dead_letters()), len(backend.parsed.dead_letters())
        run_steps(stack, tmp_path,
                  ChaosStep(at_s=0, fault="poison", target="parser", params={"count": 8}),
                  ChaosStep(at_s=0, fault="poison", target="pod-worker", params={"count": 4}))
        wishes = wait_for(lambda: (d := backend.wishes.dead_letters()[before_w:]) and
                          len(d) == 8 and d, timeout=20, what="8 dead letters from the parser")
        parsed = wait_for(lambda: (d := backend.parsed.dead_letters()[before_p:]) and
                          len(d) == 4 and d, timeout=20, what="4 from the pod worker")
        assert backend.store.count() == 0, "no poison was stored"
    finally:
        backend.close()
    reasons = [d["reason"] for d in wishes]  # each of the 4 kinds twice, each with its reason
    assert sum(r.startswith("malformed JSON: ") for r in reasons) == 2
    assert reasons.count("invalid wish: message: is not valid Unicode (lone surrogate)") == 2
    assert reasons.count("invalid wish: message: is 450000 characters; at most 2000 allowed") == 2
    assert reasons.count("invalid wish: wish_id: is required") == 2
    assert sorted(d["reason"].split(":")[0] for d in parsed) == [
        "invalid unicode", "malformed JSON", "oversize", "wrong schema"]


# -- exodus chaos on the stack, through the real CLI process ----------------------------------
def exodus(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "200"})


def test_cli_apply_and_clear_a_port_fault(stack: Supervisor) -> None:
    root = str(stack.state.root)
    timeline = stack.state.root / "timeline.jsonl"
    seen = len(read_timeline(timeline))
    done = exodus("chaos", "apply", "throttle", "--target", "pod-worker/store.put",
                  "--probability", "0.5", "--state-dir", root)
    assert done.returncode == 0, done.stderr
    assert "until `exodus chaos clear" in done.stdout
    [entry] = FaultBoard(stack.state).entries()
    assert (entry.fault, entry.target, entry.probability, entry.source) == (
        "throttle", "pod-worker/store.put", 0.5, "cli")
    cleared = exodus("chaos", "clear", "--state-dir", root)
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.startswith("cleared 1 fault(s)")
    assert FaultBoard(stack.state).entries() == []
    lines = read_timeline(timeline)[seen:]
    assert [(x["event"], x["fault"], x["target"], x["source"]) for x in lines] == [
        ("on", "throttle", "pod-worker/store.put", "cli"),
        ("off", "throttle", "pod-worker/store.put", "cli")]
    assert all(tuple(x) == FIELDS for x in lines)


def test_cli_kill_and_timed_pause(stack: Supervisor) -> None:
    root = str(stack.state.root)
    before = component(stack.state, "parser:0")
    done = exodus("chaos", "apply", "kill", "--target", "parser:0", "--state-dir", root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "kill on parser:0: done"
    wait_for(lambda: component(stack.state, "parser:0")["pid"] not in (None, before["pid"]),
             timeout=10, what="the restart")
    worker = component(stack.state, "pod-worker:0")
    started = time.monotonic()
    paused = exodus("chaos", "apply", "pause", "--target", "pod-worker:0", "--for", "1s",
                    "--state-dir", root)
    assert paused.returncode == 0, paused.stderr
    assert time.monotonic() - started >= 1.0
    assert paused.stdout.splitlines()[-1] == "pause on pod-worker:0: off"
    assert process_state(worker["pid"]) not in ("T", None)
    events = [(x["event"], x["fault"]) for x in read_timeline(stack.state.root / "timeline.jsonl")]
    assert events[-4:] == [("on", "kill"), ("off", "kill"), ("on", "pause"), ("off", "pause")]


def test_cli_refuses_what_the_stack_does_not_run(stack: Supervisor) -> None:
    done = exodus("chaos", "apply", "kill", "--target", "parser:7", "--state-dir",
                  str(stack.state.root))
    assert done.returncode == 2
    assert done.stderr.strip() == f"exodus chaos: no running parser:7 in {stack.state.root} " \
                                  "right now"
    assert json.loads(exodus("status", "--json", "--state-dir", str(stack.state.root)).stdout)


def test_a_frontend_enqueue_fault_is_a_503_until_cleared(stack: Supervisor) -> None:
    stack.wait_ready()
    board = FaultBoard(stack.state)
    entry = board.add(ActiveFault.new("error", "frontend/queue.send", 1.0, {}, 1, "cli"))

    def post() -> httpx.Response:
        wish = {"evacuee": "Ada", "destination": "mars", "message": "Water the plants."}
        return httpx.post(f"{stack.url}/api/wishes", json=wish, timeout=10)

    refused = wait_for(lambda: (r := post()).status_code == 503 and r, timeout=3,
                       what="the frontend to pick the fault up")
    assert "InternalError" in refused.text, "the intake's AWS-like code reaches the client"
    board.remove(entry.id)
    wait_for(lambda: post().status_code == 202, timeout=3, what="the frontend to recover")


def test_ctrl_c_ends_a_cli_pause_early_and_resumes(stack: Supervisor) -> None:
    worker = component(stack.state, "pod-worker:0")
    proc = subprocess.Popen([sys.executable, "-m", "exodus2045.scenarios.cli", "chaos", "apply", "pause",
                             "--target", "pod-worker:0", "--for", "60s", "--state-dir",
                             str(stack.state.root)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: process_state(worker["pid"]) == "T", timeout=15, what="the pause")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.splitlines()[-2:] == ["pause on pod-worker:0: ended early",
                                     "pause on pod-worker:0: off"]
    assert process_state(worker["pid"]) not in ("T", None)
