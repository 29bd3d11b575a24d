"""Keeping a run's records on disk: the ledger flushed in batches, ``swarm.json``, closing.

The process that writes the ledger (the only one in a local run, the master in a distributed
one) buffers lines in memory (:class:`exodus2045.locustfiles.ledger.LedgerFile`) and a flusher
greenlet pushes them to the OS every :data:`FLUSH_EVERY_S`, so a swarm that crashes keeps what
was flushed. A failure to write is the swarm's own failure (the run's evidence is incomplete):
each function here logs it and says so by returning False, and the swarm exits unproven.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import gevent

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.locustfiles.run import Run
from exodus2045.locustfiles.tally import write_summary

FLUSH_EVERY_S = 0.5

log = logging.getLogger(__name__)


def save(run: Run, role: str, clocks: dict[str, Any] | None = None) -> bool:
    """Flush the ledger (if this process writes one) and write ``swarm.json`` (with the
    master's estimate of each worker's clock, ``clocks``, when it has one); False if either
    failed."""
    ok = True
    if run.ledger is not None:
        try:
            run.ledger.flush()
        except ExodusError as exc:
            log.error("%s", exc)
            ok = False
    try:
        summary = run.summary(role)
        if clocks is not None:
            summary["clocks"] = clocks
        write_summary(run.summary_path, summary)
    except OSError as exc:
        log.error("cannot write %s: %s", run.summary_path, exc)
        ok = False
    return ok


def close(run: Run) -> bool:
    """Stop the run's greenlets and close its files (the ledger flushed and synced)."""
    for greenlet in run.greenlets:
        greenlet.kill(block=False)
    if run.spill is not None:
        run.spill.close()
    if run.ledger is not None:
        try:
            run.ledger.close()
        except (ExodusError, OSError) as exc:
            log.error("%s", exc)
            return False
    return True


def flusher(run: Run, failed: Callable[[], None]) -> None:
    """A greenlet for the run: flush the ledger until it is closed; ``failed()`` on an error."""
    while not run.ledger.closed:
        gevent.sleep(FLUSH_EVERY_S)
        try:
            run.ledger.flush()
        except ExodusError as exc:
            log.error("%s", exc)
            failed()
            return
