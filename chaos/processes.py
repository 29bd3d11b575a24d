"""Signal a stack's components by target, and only a stack's components.

Pids come from ``stack.json`` (:func:`exodus2045.app_under_test.supervisor.component_pids`). A pid in
that file can be stale (the supervisor died, the pid was reused), so before signalling we
check the pid's command line (psutil: Linux, macOS and the BSDs alike) still runs one of our
component modules (the pipeline's own, or :mod:`exodus2045.chaos.entry` around them): chaos
must never SIGKILL a stranger, and a pid it cannot check is a stranger.
"""

from __future__ import annotations

import os
import signal

import psutil

from exodus2045.app_under_test.errors import StateDirError
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.app_under_test.supervisor import FRONTEND_MODULE, FUNCTIONS_MODULE, component_pids
from exodus2045.chaos.stack import ENTRY_MODULE
from exodus2045.chaos.targets import Target

#: What a component runs: the plain pipeline's processes, or chaos's entry point around them.
COMPONENT_MODULES = (FRONTEND_MODULE, FUNCTIONS_MODULE, ENTRY_MODULE)


class NoSuchComponent(StateDirError):
    """The target names no live process of the stack right now (e.g. it is restarting)."""


def is_component(pid: int) -> bool:
    """True if ``pid`` runs one of the stack's component modules (False if it cannot tell)."""
    try:
        argv = psutil.Process(pid).cmdline()
    except psutil.Error:  # gone, a zombie, or not ours to read
        return False
    return any(arg in COMPONENT_MODULES for arg in argv)


def live_components(state: StateDir, target: Target) -> list[tuple[str, int]]:
    """``(name, pid)`` of every running process the target covers, or NoSuchComponent."""
    stack = state.read_stack()
    if stack.get("stopped"):
        raise StateDirError(f"{state.root}: the stack there is stopped")
    found = [(n, p) for n, p in component_pids(state, target.component) if is_component(p)]
    if not found:
        raise NoSuchComponent(f"no running {target.component} in {state.root} right now")
    return found


def signal_components(state: StateDir, target: Target, signum: int) -> list[tuple[str, int]]:
    """Send ``signum`` to every process of the target; returns the ones it reached."""
    reached = []
    for name, pid in live_components(state, target):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
        reached.append((name, pid))
    if not reached:
        raise NoSuchComponent(f"every {target.component} exited before it could be signalled")
    return reached


def resume(pids: list[int]) -> list[int]:
    """SIGCONT each pid still alive (a paused process must never outlive its pause)."""
    resumed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)
            resumed.append(pid)
        except ProcessLookupError:
            continue
    return resumed


#: psutil's status names as the kernel's one-letter states (``ps`` STAT), as callers use them.
_STATE_LETTERS = {
    psutil.STATUS_RUNNING: "R", psutil.STATUS_SLEEPING: "S", psutil.STATUS_DISK_SLEEP: "D",
    psutil.STATUS_STOPPED: "T", psutil.STATUS_TRACING_STOP: "t", psutil.STATUS_ZOMBIE: "Z",
    psutil.STATUS_DEAD: "X", psutil.STATUS_IDLE: "I",
}


def process_state(pid: int) -> str | None:
    """The one-letter state of ``pid`` (``T`` = stopped, ``Z`` = zombie), or None if it is gone."""
    try:
        status = psutil.Process(pid).status()
    except psutil.NoSuchProcess:
        return None
    return _STATE_LETTERS.get(status, status[:1].upper())
