"""Children that die with their parent: a parent-death signal and a watchdog pipe.

Every process Exodus starts runs in its own session (so a Ctrl-C in the terminal reaches
only the runner, which stops things in order). The price is that a parent killed with
``kill -9`` (a CI job's timeout) would leave them all running as orphans. Two tethers,
either enough on its own:

- Linux: ``prctl(PR_SET_PDEATHSIG)`` set between fork and exec, so the kernel signals the
  child when its parent dies. It follows the *thread* that forked: a parent that spawns from
  a thread must keep that thread alive as long as the child (the supervisor does).
- Everywhere (macOS too): a pipe whose write end only the parent holds. The child gets the
  read end (``EXODUS_LIFELINE_FD``) and a watchdog reads it: end of file means the parent
  is gone, whatever killed it. The child then stops itself (SIGTERM, so it shuts down in
  order) and, if that does not finish within a grace period, SIGKILLs itself.

The parent side is :func:`tethered` (keyword arguments for ``subprocess.Popen``); the child
side is :func:`watch_parent`, called first thing by each entry point. A stopped child
(SIGSTOP, a ``pause`` fault) cannot run its watchdog; on Linux the death signal SIGKILL
still ends it, on macOS it ends when it is continued.
"""

from __future__ import annotations

import ctypes
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from exodus2045.app_under_test.settings import ENV_LIFELINE_FD

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
GRACE_S = 10.0  # how long a child given SIGTERM by its watchdog has to finish in order


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, resolved once in the parent: nothing may be loaded after fork."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


_PRCTL = _load_prctl()
_PIPE: dict[int, tuple[int, int]] = {}  # pid -> (read, write): one pipe per parent process


def _read_end() -> int:
    """This process's lifeline read end (the write end stays here, never inherited)."""
    pid = os.getpid()
    if pid not in _PIPE:  # a forked child makes its own: the parent's would not tell of it
        _PIPE.clear()
        _PIPE[pid] = os.pipe()  # non-inheritable (PEP 446); pass_fds hands the read end on
    return _PIPE[pid][0]


def _death_signal(signum: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks the kernel for ``signum`` when the parent dies (Linux)."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signum)

    return preexec


def tethered(env: Mapping[str, str] | None = None, pass_fds: tuple[int, ...] = (),
             death_signal: int = signal.SIGKILL) -> dict[str, Any]:
    """``subprocess.Popen`` keyword arguments that tie the child's life to this process.

    ``death_signal`` is what Linux sends when this process dies: SIGKILL for stack
    components (durable against ``kill -9`` by contract), SIGTERM for a process that must
    flush on the way out (Locust's ledger).
    """
    read = _read_end()
    kwargs: dict[str, Any] = {
        "env": {**(os.environ if env is None else env), ENV_LIFELINE_FD: str(read)},
        "pass_fds": (*pass_fds, read),
    }
    preexec = _death_signal(death_signal)
    if preexec is not None:
        kwargs["preexec_fn"] = preexec
    return kwargs


def lifeline_fd(environ: MutableMapping[str, str] | None = None) -> int | None:
    """The inherited read end, taken out of the environment (grandchildren do not have the
    fd, so they must not see the name either); None if this process was started untethered."""
    environ = os.environ if environ is None else environ
    raw = environ.pop(ENV_LIFELINE_FD, None)
    if raw is None or not raw.isdigit():
        return None
    fd = int(raw)
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return None
    except OSError:
        return None
    return fd


def stop_self(grace_s: float = GRACE_S, sleep: Callable[[float], None] = time.sleep) -> None:
    """SIGTERM this process (its own handlers stop it in order), then SIGKILL after grace."""
    os.kill(os.getpid(), signal.SIGTERM)
    sleep(grace_s)
    os.kill(os.getpid(), signal.SIGKILL)


def watch_parent(on_gone: Callable[[], None] = stop_self) -> bool:
    """Start a daemon thread that calls ``on_gone`` when the parent's lifeline closes.

    Returns False when this process has no lifeline (started by hand). Not for gevent
    processes: Locust's locustfile waits on the fd with gevent instead (same fd, same rule).
    """
    fd = lifeline_fd()
    if fd is None:
        return False

    def watch() -> None:
        wait_until_parent_gone(fd)
        on_gone()

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
    return True


def wait_until_parent_gone(fd: int) -> None:
    """Block until the lifeline ``fd`` reads end of file: the parent is gone, however it died
    (nobody ever writes to it, so a read returns only then)."""
    while True:
        try:
            if os.read(fd, 1) == b"":
                return
        except InterruptedError:
            continue
        except OSError:
            return
