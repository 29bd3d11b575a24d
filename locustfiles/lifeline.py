"""The swarm's side of the lifeline: Locust dies with the runner that started it.

The runner starts Locust in a session of its own, tethered by
:func:`exodus2045.app_under_test.lifeline.tethered` (on Linux the kernel sends SIGTERM when the
runner dies). This is the portable half: Locust is a gevent process, so instead of a thread
blocked in ``read`` a greenlet waits for the lifeline fd to become readable; end of file
means the runner is gone. Locust's own SIGTERM handler then quits in order (the ledger is
flushed on ``quitting``), and a swarm that has not gone within the grace period is killed.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import gevent
from gevent.socket import wait_read

from exodus2045.app_under_test.lifeline import GRACE_S, lifeline_fd


def _watch(fd: int) -> None:
    while True:
        wait_read(fd)
        try:
            if os.read(fd, 1) == b"":
                break
        except BlockingIOError:
            continue
        except OSError:
            break
    os.kill(os.getpid(), signal.SIGTERM)
    gevent.sleep(GRACE_S)
    os.kill(os.getpid(), signal.SIGKILL)


def watch_runner(**_: Any) -> bool:
    """An ``events.init`` listener: start the watchdog greenlet if Locust was tethered."""
    fd = lifeline_fd()
    if fd is None:
        return False
    gevent.spawn(_watch, fd)
    return True


def _interrupt_main() -> None:
    """Ctrl-C, delivered where Locust expects it: in the main greenlet, which waits in
    ``main_greenlet.join()`` and answers KeyboardInterrupt with its orderly shutdown."""
    hub = gevent.get_hub()
    hub.loop.run_callback(hub.parent.throw, KeyboardInterrupt)


def calm_interrupt(**_: Any) -> None:
    """An ``events.init`` listener: take SIGINT through gevent's signal handling.

    Python's own handler raises KeyboardInterrupt in whatever code runs when the signal
    lands -- on a busy swarm, an evacuee between sending its request and writing its ledger
    line, so the frontend saw a wish the ledger never records. Through
    :func:`gevent.signal_handler` the handler runs in a greenlet of its own and interrupts
    only the main greenlet; every evacuee finishes or is stopped by Locust's shutdown, which
    ledgers what was answered."""
    gevent.signal_handler(signal.SIGINT, _interrupt_main)
