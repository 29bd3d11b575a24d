"""The swarm across real network boundaries: Linux network namespaces joined by veth pairs.

Three "hosts" on one machine (root only; the test creates the namespaces and removes them):
the stack and the Locust master in one, a worker in each of two others, every address
inside the namespaces (no loopback between them). The merged ledger must be exact and the
verdict sound, as in a single-process run.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow
TOKEN = "netns-join-token-for-tests-0123456789"
PY = [sys.executable, "-m", "exodus2045.scenarios.cli"]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture
def hosts() -> Iterator[dict[str, str]]:
    """Namespaces A (10.x.y.1, a bridge), B (.2) and C (.3); yields name -> address."""
    if os.geteuid() != 0 or not shutil.which("ip") or not sys.platform.startswith("linux"):
        pytest.skip("needs root and iproute2 on Linux")
    tag = f"ex{os.getpid() % 100000}"
    subnet = f"10.231.{os.getpid() % 200 + 20}"
    names = {f"{tag}a": f"{subnet}.1", f"{tag}b": f"{subnet}.2", f"{tag}c": f"{subnet}.3"}
    a, *others = names
    created: list[str] = []
    try:
        for name in names:
            _ip("netns", "add", name)
            created.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", a, "link", "add", "br0", "type", "bridge")
        _ip("-n", a, "addr", "add", f"{names[a]}/24", "dev", "br0")
        _ip("-n", a, "link", "set", "br0", "up")
        for name in others:
            outside, inside = f"{name}h", f"{name}v"  # the A end, the other host's end
            _ip("link", "add", outside, "type", "veth", "peer", "name", inside, "netns", name)
            _ip("link", "set", outside, "netns", a)
            _ip("-n", a, "link", "set", outside, "master", "br0")
            _ip("-n", a, "link", "set", outside, "up")
            _ip("-n", name, "addr", "add", f"{names[name]}/24", "dev", inside)
            _ip("-n", name, "link", "set", inside, "up")
    except (subprocess.CalledProcessError, OSError) as exc:
        for name in created:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)
        pytest.skip(f"cannot build network namespaces here: {exc}")
    try:
        yield names
    finally:
        for name in created:  # removing a namespace removes its veth ends too
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


def _in(ns: str, *args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(["ip", "netns", "exec", ns, *PY, *args], env=env, **kwargs)


def test_master_and_two_workers_in_separate_namespaces_give_an_exact_ledger(hosts, tmp_path):
    (a, master_ip), (b, _), (c, _) = hosts.items()
    scenario = tmp_path / "netns.toml"
    scenario.write_text(textwrap.dedent("""
        name = "netns"
        seed = 31
        [load]
        evacuees = 200
        arrival_rate = 40
        max_in_flight = 16
    """))
    env = {**os.environ, "EXODUS_JOIN_TOKEN": TOKEN}
    state, out, port = tmp_path / "state", tmp_path / "run", "5557"
    procs: list[subprocess.Popen] = []
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    try:
        procs.append(_in(a, "up", "--host", master_ip, "--port", "0", "--state-dir", str(state),
                         "--parsers", "1", "--pod-workers", "1", env=env, **quiet))
        wait_for(lambda: (state / "stack.json").is_file() and all(
            c["pid"] for c in json.loads((state / "stack.json").read_text())["components"]),
            timeout=60, what="the stack in namespace A")
        url = json.loads((state / "stack.json").read_text())["url"]
        assert url.startswith(f"http://{master_ip}:")
        run = _in(a, "run", str(scenario), "--state-dir", str(state), "--expect-workers", "2",
                  "--master-bind-host", master_ip, "--master-bind-port", port,
                  "--out", str(out), env=env, stdout=subprocess.PIPE,
                  stderr=subprocess.STDOUT, text=True)
        procs.append(run)
        wait_for(lambda: (out / "locust.log").is_file(), timeout=60, what="the master")
        for ns in (b, c):
            procs.append(_in(ns, "swarm", "worker", "--master", f"{master_ip}:{port}",
                             env=env, cwd=tmp_path, **quiet))
        output, _ = run.communicate(timeout=240)
        assert run.returncode == 0, output[-3000:]
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    swarm = json.loads((out / "swarm.json").read_text())
    assert (swarm["workers"], swarm["complete"], swarm["finished"]) == (2, True, 200)
    lines = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert sorted(line["n"] for line in lines if line["attempt"] == 1) == list(range(200))
    verdict = json.loads((out / "verdict.json").read_text())
    assert (verdict["outcome"], verdict["complete"]) == ("sound", True)
