"""A process group that dies with the test session: ``python -m tests.group_reaper PGID``.

A fixture that starts a third-party server in a session of its own (ministack, whose Lambda
workers are its children) stops the whole group in its teardown; a pytest killed partway
(a CI job's timeout, a second Ctrl-C) never runs that teardown, and the group kept running.
Exodus's own processes die with their parent (``exodus2045.app_under_test.lifeline``); a
third-party one cannot be made to watch a lifeline, so this small reaper watches it for the
group: tethered to pytest (a parent-death signal on Linux, a pipe everywhere), it SIGKILLs the
group the moment pytest is gone. The fixture's own teardown stops the group first and then
kills the reaper, which never reaps a group that was already stopped in order.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from exodus2045.app_under_test.lifeline import (
    lifeline_fd,
    tethered,
    wait_until_parent_gone,
)

ROOT = Path(__file__).resolve().parents[1]


def reap_with_this_process(pgid: int) -> subprocess.Popen:
    """Start a reaper that kills process group ``pgid`` when this process dies; returns once
    it is watching (a parent that died while the reaper was still importing would otherwise
    end it by the default SIGTERM action, before it had reaped anything)."""
    reaper = subprocess.Popen([sys.executable, "-m", "tests.group_reaper", str(pgid)], cwd=ROOT,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              **tethered(death_signal=signal.SIGTERM))
    assert reaper.stdout is not None
    if reaper.stdout.readline() != b"watching\n":
        raise RuntimeError(f"group_reaper for {pgid} did not start (exit {reaper.wait(10)})")
    reaper.stdout.close()
    return reaper


def stop_reaper(reaper: subprocess.Popen) -> None:
    """The group was stopped in order: end the reaper without it reaping anything."""
    reaper.kill()
    reaper.wait(timeout=10)


def _reap(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    os._exit(0)


def main(argv: list[str]) -> None:
    pgid = int(argv[1])
    signal.signal(signal.SIGTERM, lambda *_: _reap(pgid))  # Linux: the parent-death signal
    fd = lifeline_fd()
    if fd is None:
        raise SystemExit("group_reaper: no lifeline; start it with reap_with_this_process()")
    os.write(1, b"watching\n")
    wait_until_parent_gone(fd)  # everywhere: end of file means the parent is gone
    _reap(pgid)


if __name__ == "__main__":
    main(sys.argv)
