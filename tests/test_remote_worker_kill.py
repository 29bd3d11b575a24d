"""A worker on "another host" (no local spill) killed -9 loses no acknowledged ledger line.

Local workers write every line to a spill in the run folder first; a remote one cannot, so
it ships each acknowledged line to the master before its carrier takes the next evacuee
(locustfiles/swarm.py). What a kill can still lose is an answer in flight: the frontend
stored the wish but the worker never read the 202. With one carrier per worker that is at
most one wish; without the prompt shipping it would be up to a quarter second of them
(about 35 at this rate).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import psutil
import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "exodus2045.scenarios.cli"]
TOKEN = "a-join-token-for-kill-tests-0123456789"
CARRIERS_PER_WORKER = 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")]


def test_a_remote_worker_killed_9_loses_only_the_answers_it_had_in_flight(tmp_path):
    scenario = tmp_path / "kill.toml"
    scenario.write_text(textwrap.dedent(f"""
        name = "remote-kill"
        seed = 3
        [stack]
        parsers = 1
        pod_workers = 1
        [load]
        evacuees = 2400
        arrival_rate = 300
        max_in_flight = {2 * CARRIERS_PER_WORKER}
        infiltrator_share = 0.05
    """))
    out, port = tmp_path / "run", _free_port()
    env = {**os.environ, "EXODUS_JOIN_TOKEN": TOKEN}
    run = subprocess.Popen([*CLI, "run", str(scenario), "--workers", "1", "--expect-workers",
                            "1", "--master-bind-port", str(port), "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    remote = None
    try:
        wait_for(lambda: (out / "locust.log").is_file(), timeout=120, what="the master")
        remote = subprocess.Popen([*CLI, "swarm", "worker", "--master", f"127.0.0.1:{port}"],
                                  env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        ledger = out / "ledger.jsonl"
        wait_for(lambda: ledger.is_file() and len(ledger.read_text().splitlines()) >= 300,
                 timeout=120, what="both workers to be sending")
        [locust] = [p for p in psutil.Process(remote.pid).children(recursive=True)
                    if "--worker" in p.cmdline()]
        locust.kill()
        output, _ = run.communicate(timeout=180)
    finally:
        for proc in (run, remote):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert run.returncode == 1, output[-3000:]  # ended early: never better than unproven
    swarm = json.loads((out / "swarm.json").read_text())
    assert len(swarm["workers_lost"]) == 1 and swarm["complete"] is False
    acked = {line["wish_id"] for line in _lines(out / "ledger.jsonl") if line["status"] == 202}
    stored = [w for w in _lines(out / "store-snapshot.jsonl") if w.get("source") == "swarm"]
    unledgered = [w["wish_id"] for w in stored if w["wish_id"] not in acked]
    assert len(stored) > 300
    assert len(unledgered) <= CARRIERS_PER_WORKER, unledgered
