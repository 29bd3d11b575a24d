"""The reaper behind the emulator fixtures: a group started by a killed pytest does not outlive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.group_reaper import ROOT
from tests.swarm_fixtures import wait_for

#: Stands in for pytest: starts a long-lived group in a session of its own (as the ministack
#: fixture does), reaps it with itself, says the group's pid, and waits to be killed.
PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from tests.group_reaper import reap_with_this_process
    group = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"],
                             start_new_session=True)
    reap_with_this_process(group.pid)
    print(group.pid, flush=True)
    time.sleep(120)
    """
)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_a_group_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    """GIVEN a process that started a group in its own session and a reaper for it
    WHEN that process is killed with -9 (its teardown never runs) THEN the group dies too."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    group = int(parent.stdout.readline())
    try:
        assert alive(group)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        wait_for(lambda: not alive(group), 20, "the orphaned group to be reaped")
    finally:
        if alive(group):
            os.killpg(group, signal.SIGKILL)
