"""A runner or supervisor killed with ``kill -9`` takes its children with it.

Both tethers of :mod:`exodus2045.app_under_test.lifeline` are tried alone (the kernel's
parent-death signal on Linux; the watchdog pipe everywhere), then end to end: ``exodus run``
and ``exodus up`` killed -9 leave no process behind, and the run folder says interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from exodus2045.app_under_test.lifeline import lifeline_fd, tethered
from tests.conftest import wait_for

CLI = [sys.executable, "-m", "exodus2045.scenarios.cli"]

# A parent that starts one tethered child and prints its pid; the child sleeps, watching its
# lifeline (or not), and the test kills the parent -9.
PARENT = textwrap.dedent("""
    import subprocess, sys, time
    from exodus2045.app_under_test.lifeline import tethered
    watch, pdeath = sys.argv[1], sys.argv[2] == "pdeath"
    kwargs = tethered()
    if not pdeath:
        kwargs.pop("preexec_fn", None)
    child = {
        "watch": "from exodus2045.app_under_test.lifeline import watch_parent; "
                 "import time; watch_parent(); time.sleep(120)",
        "gevent": "from gevent import monkey; monkey.patch_all(); import gevent; "
                  "from exodus2045.locustfiles.lifeline import watch_runner; "
                  "watch_runner(); gevent.sleep(120)",
        "-": "import time; time.sleep(120)",
    }[watch]
    proc = subprocess.Popen([sys.executable, "-c", child], start_new_session=True, **kwargs)
    print(proc.pid, flush=True)
    time.sleep(120)
""")


def _gone(pids: list[int]) -> bool:
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


def _orphan_of_killed_parent(watch: str, pdeath: bool) -> tuple[int, subprocess.Popen]:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, watch, "pdeath" if pdeath else "-"],
                              stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert psutil.pid_exists(child)
    parent.kill()
    parent.wait()
    return child, parent


@pytest.mark.parametrize("watch,pdeath", [("watch", False), ("gevent", False), ("-", True)],
                         ids=["watchdog-pipe", "swarm-watchdog-greenlet", "parent-death-signal"])
def test_a_child_dies_with_its_parent_by_either_tether_alone(watch, pdeath):
    if pdeath and not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    child, _ = _orphan_of_killed_parent(watch, pdeath)
    try:
        wait_for(lambda: _gone([child]), timeout=15, what="the orphan to stop")
    finally:
        if not _gone([child]):
            os.kill(child, signal.SIGKILL)


def test_an_untethered_child_would_have_survived():
    """The control: neither tether, and the orphan keeps running (so the tests above prove
    something)."""
    child, _ = _orphan_of_killed_parent(watch="-", pdeath=False)
    try:
        assert psutil.Process(child).is_running() and not _gone([child])
    finally:
        os.kill(child, signal.SIGKILL)


def test_the_lifeline_fd_is_taken_out_of_the_environment():
    kwargs = tethered({"X": "1"})
    env = dict(kwargs["env"])
    fd = lifeline_fd(env)
    assert fd in kwargs["pass_fds"] and "EXODUS_LIFELINE_FD" not in env and env["X"] == "1"
    assert lifeline_fd({"EXODUS_LIFELINE_FD": "not-a-fd"}) is None
    assert lifeline_fd({}) is None


def _tree(pid: int) -> list[int]:
    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


@pytest.mark.slow
def test_kill_9_of_exodus_run_leaves_nothing_and_a_folder_that_says_interrupted(tmp_path):
    scenario = tmp_path / "lifeline.toml"
    scenario.write_text(textwrap.dedent("""
        name = "lifeline"
        seed = 14
        [stack]
        parsers = 1
        pod_workers = 1
        [load]
        evacuees = 200
        arrival_rate = 10
        max_in_flight = 8
    """))
    out = tmp_path / "run"
    run = subprocess.Popen([*CLI, "run", str(scenario), "--out", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: (out / "ledger.jsonl").is_file()
                 and (out / "ledger.jsonl").stat().st_size > 0, timeout=120,
                 what="the swarm to be sending")
        children = _tree(run.pid)
        assert len(children) >= 4  # frontend, parser, pod worker, locust
    finally:
        run.kill()  # as a CI job's timeout would
        run.wait()
    wait_for(lambda: _gone(children), timeout=20, what="every process of the run to stop")
    assert json.loads((out / "run.json").read_text())["unfinished"]
    report = subprocess.run([*CLI, "report", str(out)], capture_output=True, text=True,
                            timeout=120)
    assert report.returncode == 2, report.stdout[-2000:] + report.stderr[-2000:]
    assert "INTERRUPTED" in report.stdout
    verdict = json.loads((out / "verdict.json").read_text())
    assert (verdict["outcome"], verdict["complete"], verdict["sound"]) == (
        "interrupted", False, False)
    assert (out / "report.html").is_file()


@pytest.mark.slow
def test_kill_9_of_exodus_up_stops_every_component(tmp_path: Path):
    state = tmp_path / "state"
    up = subprocess.Popen([*CLI, "up", "--port", "0", "--state-dir", str(state), "--parsers",
                           "1", "--pod-workers", "1"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def all_running() -> list[int]:
            if not (state / "stack.json").exists():
                return []
            components = json.loads((state / "stack.json").read_text())["components"]
            pids = [c["pid"] for c in components]
            return pids if components and all(pids) else []

        pids = wait_for(all_running, what="stack.json")
        assert set(pids) <= set(_tree(up.pid))
    finally:
        up.kill()
        up.wait()
    wait_for(lambda: _gone(pids), timeout=20, what="every component to stop")
