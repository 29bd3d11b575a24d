"""Workers from "other hosts": ``exodus run --expect-workers`` and ``exodus swarm worker``.

On loopback here (the network-namespace test is separate): a master waiting for two remote
workers, an impostor without the join token that gets nothing, and two real workers that
carry the whole run. The Locust internals the gate leans on are in locustfiles/locust_compat.py.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from exodus2045.locustfiles.join import join_proof
from tests.conftest import wait_for

CLI = [sys.executable, "-m", "exodus2045.scenarios.cli"]
TOKEN = "a-join-token-for-tests-only-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_proof_binds_token_and_worker():
    assert join_proof(TOKEN, "w1") != join_proof(TOKEN, "w2")
    assert join_proof(TOKEN, "w1") != join_proof(TOKEN + "x", "w1")
    assert len(join_proof(TOKEN, "w1")) == 64


def test_expecting_remote_workers_without_a_token_is_refused(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "EXODUS_JOIN_TOKEN"}
    result = subprocess.run([*CLI, "run", "smoke", "--expect-workers", "1", "--out",
                             str(tmp_path / "run")], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 2 and "EXODUS_JOIN_TOKEN" in result.stderr, result.stderr
    worker = subprocess.run([*CLI, "swarm", "worker", "--master", "127.0.0.1:5557"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert worker.returncode == 2 and "EXODUS_JOIN_TOKEN" in worker.stderr


@pytest.mark.slow
def test_remote_workers_with_the_token_carry_the_run_and_an_impostor_gets_nothing(tmp_path):
    scenario = tmp_path / "remote.toml"
    scenario.write_text(textwrap.dedent("""
        name = "remote"
        seed = 7
        [stack]
        parsers = 1
        pod_workers = 1
        [load]
        evacuees = 200
        arrival_rate = 40
        max_in_flight = 16
    """))
    out, port = tmp_path / "run", _free_port()
    env = {**os.environ, "EXODUS_JOIN_TOKEN": TOKEN}
    bare = {k: v for k, v in os.environ.items() if k != "EXODUS_JOIN_TOKEN"}
    procs = [subprocess.Popen([*CLI, "run", str(scenario), "--expect-workers", "2",
                               "--master-bind-port", str(port), "--out", str(out)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env)]
    master_log = out / "locust.log"
    try:
        wait_for(lambda: master_log.is_file(), timeout=120, what="the master to start")
        from exodus2045.scenarios.distributed import worker_command

        impostor = subprocess.Popen(worker_command("127.0.0.1", port), env=bare,
                                    cwd=tmp_path, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        procs.append(impostor)
        wait_for(lambda: "without a valid join token" in master_log.read_text(), timeout=60,
                 what="the master to turn the impostor away")
        for _ in range(2):
            procs.append(subprocess.Popen([*CLI, "swarm", "worker", "--master",
                                           f"127.0.0.1:{port}"], env=env, cwd=tmp_path,
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        output, _ = procs[0].communicate(timeout=240)
        assert procs[0].returncode == 0, output[-3000:]
        assert impostor.poll() is None  # still knocking: never acknowledged, never told to quit
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    swarm = json.loads((out / "swarm.json").read_text())
    assert (swarm["workers"], swarm["complete"], swarm["finished"]) == (2, True, 200)
    lines = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert sorted(line["n"] for line in lines if line["attempt"] == 1) == list(range(200))
    assert json.loads((out / "verdict.json").read_text())["outcome"] == "sound"
    assert TOKEN not in "".join(p.read_text(errors="replace") for p in out.rglob("*")
                                if p.is_file())
