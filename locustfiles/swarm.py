"""One process's share of a swarm run: tickets, ledger, tally, and knowing when it is over.

Locust runs this module in one of three roles, and the roles split the work so a distributed
run gives exactly the same ledger as a local one:

- ``local``: the only process. Hands out evacuee numbers itself, writes the ledger, and quits
  (headless) or stops (web UI) when the last evacuee has its final answer.
- ``master``: carries no evacuees. Mints the run (id, seed, t0) for everyone, leases ranges of
  evacuee numbers to workers, writes the ledger lines workers ship to it, and ends the run
  when the merged tally says every evacuee is finished.
- ``worker``: carries evacuees from leased ranges and ships ledger lines plus a tally delta
  to the master every quarter second, and at once when its last evacuee is done.

This module is the state and its lifecycle; the parts live beside it: planning and signing
the tickets (``tickets.py``), the master/worker messages (``messages.py``), and keeping the
ledger and ``swarm.json`` on disk (``records.py``).

Other modules (a web-UI "stage" tab, the runner) read a live view through
:func:`swarm_for` and :meth:`Swarm.snapshot`; they add their own ``events.init`` listeners in
their own modules rather than editing this one.
"""

from __future__ import annotations

import contextlib
import logging
import time
import weakref
from typing import Any

import gevent
from locust.runners import MasterRunner, WorkerRunner

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.locustfiles import records
from exodus2045.locustfiles.arrivals import LeaseDesk, LeasedTickets, LocalTickets
from exodus2045.locustfiles.clock import ClockBook, attach_clock
from exodus2045.locustfiles.generate import POOL_SIZE, build_pools
from exodus2045.locustfiles.go import wait_for_go
from exodus2045.locustfiles.join import install_join
from exodus2045.locustfiles.ledger import LedgerFile
from exodus2045.locustfiles.lifeline import calm_interrupt, watch_runner
from exodus2045.locustfiles.messages import Messages, worker_drained
from exodus2045.locustfiles.options import add_arguments
from exodus2045.locustfiles.outcome import SOUND, UNPROVEN, exit_code
from exodus2045.locustfiles.run import (
    ROLE_LOCAL,
    ROLE_MASTER,
    ROLE_WORKER,
    Run,
    RunSecret,
    Ticket,
    begin_run,
    calm_gc,
    resync_clock,
)
from exodus2045.locustfiles.spill import open_spill
from exodus2045.locustfiles.tickets import plan_ahead
from exodus2045.locustfiles.worker_watch import watch_workers

log = logging.getLogger(__name__)
_SWARMS: weakref.WeakKeyDictionary[Any, Swarm] = weakref.WeakKeyDictionary()
_INSTALLED: set[int] = set()


class Swarm:
    """The swarm state of one Locust environment (one per process)."""

    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.role = ROLE_LOCAL
        self.run: Run | None = None
        self.failed = False  # the swarm itself broke (bad options, ledger I/O)
        self._attached = False
        self.messages = Messages(self)  # a distributed run's (locustfiles/messages.py)
        #: Called with (run id, key) for a run whose key this process minted (not one the
        #: runner gave): the presenter's console tells the frontend with them.
        self.key_listeners: list[Any] = []
        #: The clock evacuees read: the master's, on a worker that has its offset
        #: (locustfiles/clock.py); a master keeps each worker's estimate in ``clock_book``.
        self.now = time.time
        self.clock_book: ClockBook | None = None

    # -- wiring ----------------------------------------------------------------------------
    def attach(self, runner: Any) -> None:
        """Pick the role from the runner, register messages and lifecycle listeners."""
        if self._attached:
            return
        self._attached = True
        if isinstance(runner, MasterRunner):
            self.role = ROLE_MASTER
            self.messages.register_master(runner)
        elif isinstance(runner, WorkerRunner):
            self.role = ROLE_WORKER
            self.messages.register_worker(runner)
        attach_clock(self, runner)
        self._warm_pools()
        events = self.environment.events
        events.test_start.add_listener(self._on_test_start)
        events.test_stopping.add_listener(self._on_test_stopping)
        events.test_stop.add_listener(self._on_test_stop)
        events.quitting.add_listener(self._on_quitting)
        events.quit.add_listener(self._on_quit)

    def _warm_pools(self) -> None:
        """Draw the Faker pools now if the seed is known, so a start does not wait for them."""
        seed = getattr(self.environment.parsed_options, "seed", None)
        if self.role != ROLE_MASTER and seed not in (None, ""):
            with contextlib.suppress(TypeError, ValueError):  # reported when the test starts
                build_pools(int(seed), POOL_SIZE)
            calm_gc()  # its first full pass too: not between the go and the first evacuee
            resync_clock()

    # -- the hot path (called by Evacuee users) --------------------------------------------
    def next_ticket(self) -> Ticket | None:
        """The next evacuee to carry (see :data:`exodus2045.locustfiles.run.Ticket`), or None.

        Evacuees are planned a batch at a time (:func:`exodus2045.locustfiles.tickets.plan_ahead`)
        and handed out in order; a number taken but not yet handed out when the test stops is
        never sent (counted as dropped), exactly like one never taken.
        """
        run = self.run
        if run is None or run.stopping:
            return None
        ready = run.ready
        if not ready:
            if run.tickets is None or run.pools is None or not plan_ahead(run):
                return None
            if run is not self.run or run.stopping:  # the lease wait let the test stop
                return None
        run.in_flight += 1
        return ready.popleft()

    def attempted(self, line: str, latency_ms: float, late_s: float | None = None) -> None:
        """One attempt answered (``late_s``: how late the first attempt went out)."""
        run = self.run
        run.tally.attempted(latency_ms, late_s)
        if run.ledger is not None:
            run.ledger.append(line)
        else:
            if run.spill is not None:  # on disk before anything else (locustfiles/spill.py)
                run.spill.write(line.encode())
            run.outbox.append(line)

    def finished(self, status: int, expect: str, response_ms: float) -> None:
        run = self.run
        run.tally.finished(status, expect, response_ms)
        run.in_flight -= 1
        if self.role == ROLE_LOCAL:
            if run.tally.counts["finished"] >= run.plan.evacuees:
                self.complete(run)
        elif worker_drained(run):
            self.messages.ship(run)  # tell the master at once: this worker is done
        elif status == 202 and run.spill is None:
            self.messages.ship_now(run)  # acknowledged, and no local copy: to the master first

    def broken(self, ticket: Ticket) -> None:
        """An evacuee hit a bug in the swarm: count it and let the run still finish."""
        self.run.internal_errors += 1
        self.finished(0, ticket[4], (time.time() - ticket[1]) * 1000.0)

    def still_wanted(self) -> bool:
        """Checked after waiting for the intended start: False if the test began stopping.

        An evacuee not yet sent when the test stops is dropped (never sent), so a stop with
        ``--stop-timeout`` lets requests in flight finish and be ledgered without sending new
        ones after the stop.
        """
        run = self.run
        if run is not None and not run.stopping:
            return True
        if run is not None:
            run.in_flight -= 1
        return False

    def idle(self) -> None:
        """Nothing left to carry: wait (cooperatively) for the run to end."""
        run = self.run
        if run is None or run.done.is_set():
            if run is None or not run.stopping:
                gevent.sleep(0.05)  # the runner is about to stop us; do not spin meanwhile
            return
        run.done.wait(timeout=1.0)

    # -- a live view for other modules -----------------------------------------------------
    def snapshot(self) -> dict[str, Any] | None:
        """The current run's ``swarm.json`` content, live (None before the first run)."""
        return None if self.run is None else self.run.summary(self.role)

    # -- lifecycle -------------------------------------------------------------------------
    def _on_test_start(self, environment: Any, **_: Any) -> None:
        self._retire(self.run)
        self.run = None
        try:
            self.run = self._begin()
        except ExodusError as exc:
            log.error("the swarm cannot start: %s", exc)
            self.failed = True
            gevent.spawn(self._stop_runner)
            return
        if self.role != ROLE_WORKER and self.run.plan.evacuees == 0:
            self.complete(self.run)

    def _begin(self) -> Run:
        run = begin_run(self.role, self.environment.parsed_options, self.messages.secrets.pop)
        plan = run.plan
        if self.role != ROLE_WORKER and run.key_minted:
            for listener in self.key_listeners:
                listener(plan.run_id, run.key)
        if self.role == ROLE_MASTER:  # before Locust sends the spawn orders (same socket)
            self.messages.send_secret(run, RunSecret(run.key, plan.id_secret))
        if self.role == ROLE_LOCAL:
            run.tickets = LocalTickets(plan.evacuees)
        elif self.role == ROLE_WORKER:
            ask = self.messages.ask_lease
            run.tickets = LeasedTickets(lambda want: ask(run, want), run.lease_size)
            run.greenlets.append(gevent.spawn(self.messages.courier, run))
            run.spill = open_spill(str(getattr(self.environment.runner, "client_id", "")))
        else:
            run.desk = LeaseDesk(plan.evacuees)
            run.greenlets.append(gevent.spawn(watch_workers, self, run))
        if self.role != ROLE_WORKER:
            run.ledger = LedgerFile(run.options.ledger)
            run.greenlets.append(gevent.spawn(records.flusher, run, self._failed))
        log.info(
            "swarm %s (%s): %d evacuees, seed %d, %s",
            plan.run_id, self.role, plan.evacuees, plan.seed, run.schedule.describe(),
        )  # fmt: skip
        return run

    def _on_test_stopping(self, environment: Any, **_: Any) -> None:
        run = self.run
        if run is not None:
            run.stopping = True
            run.done.set()

    def _on_test_stop(self, environment: Any, **_: Any) -> None:
        run = self.run
        if run is None:
            return
        if self.role == ROLE_WORKER:
            self.messages.ship(run)
            return
        if run.ended_at is None:
            run.ended_at = time.time()
        self._save(run)

    def _on_quitting(self, environment: Any, **_: Any) -> None:
        """Save, and decide the exit code; the ledger stays open until :meth:`_on_quit`.

        On Ctrl-C or SIGTERM Locust fires ``quitting`` *before* it stops the users, so
        requests in flight (given ``--stop-timeout``) still answer afterwards: their lines are
        written by the ``test_stop`` and ``quit`` listeners, not lost to a closed file.
        """
        run = self.run
        if run is not None:
            run.stopping = True  # nothing new goes out from here on
            run.done.set()
        if run is not None and self.role == ROLE_WORKER:
            self.messages.ship(run)
        elif run is not None:
            if run.ended_at is None:
                run.ended_at = time.time()
            self._save(run)
        if run is None and not self.failed:
            return  # nothing ran (a web UI opened and closed): let Locust decide
        # The swarm proves nothing by itself (the audit does): its best outcome is "sound"
        # (every evacuee has its final answer, no swarm error), anything less is unproven.
        done = not self.failed and (run is not None and run.internal_errors == 0)
        if self.role != ROLE_WORKER:
            done = done and run.complete
        environment.process_exit_code = exit_code(SOUND if done else UNPROVEN)

    def _on_quit(self, **_: Any) -> None:
        """Last event before the process exits: write what is left and close the ledger."""
        run = self.run
        if run is None:
            return
        if self.role == ROLE_WORKER:
            try:
                self.messages.ship(run)
            except Exception as exc:  # the master may be gone already; nothing left to do
                log.warning("last ledger lines not shipped to the master: %s", exc)
        else:
            self._save(run)
        self._close(run)

    def complete(self, run: Run) -> None:
        """Every evacuee has its final answer: save, then end the swarm."""
        if run.complete:
            return
        run.complete = True
        run.ended_at = time.time()
        run.done.set()
        self._save(run)
        log.info("swarm %s: all %d evacuees finished", run.plan.run_id, run.plan.evacuees)
        gevent.spawn(self._stop_runner)  # not from this greenlet: quit() kills it

    def end_early(self, run: Run, why: str) -> None:
        """End a run that cannot complete (a worker died): save what there is and stop.

        ``complete`` stays False, so the swarm exits unproven and the verdict can be no better.
        """
        if run.complete or run.stopping:
            return
        log.error("swarm %s ends early: %s", run.plan.run_id, why)
        run.stopping = True
        run.ended_at = time.time()
        run.done.set()
        self._save(run)
        gevent.spawn(self._stop_runner)

    def _stop_runner(self) -> None:
        runner = self.environment.runner
        if runner is None:
            return
        if getattr(self.environment.parsed_options, "headless", False):
            runner.quit()
        else:
            runner.stop()  # the web UI stays up, showing the finished run

    def _save(self, run: Run) -> None:
        clocks = self.clock_book.summary() if self.clock_book is not None else None
        if not records.save(run, self.role, clocks):
            self.failed = True

    def _close(self, run: Run) -> None:
        if not records.close(run):
            self.failed = True

    def _failed(self) -> None:
        self.failed = True

    def _retire(self, run: Run | None) -> None:
        """A new test starts in the same process (web UI): close the previous run."""
        if run is not None:
            run.done.set()
            if self.role != ROLE_WORKER:
                self._save(run)
            self._close(run)


def swarm_for(environment: Any) -> Swarm:
    """The :class:`Swarm` of a Locust environment (created on first use)."""
    swarm = _SWARMS.get(environment)
    if swarm is None:
        swarm = _SWARMS[environment] = Swarm(environment)
    return swarm


def install(events: Any) -> None:
    """Hook the swarm into a Locust ``events`` object once (idempotent).

    Registers the command-line options and an ``init`` listener that attaches the swarm to the
    runner. Modules that extend the swarm (web-UI tabs) call this too, then add their own
    listeners; importing both never registers anything twice.
    """
    if id(events) in _INSTALLED:
        return
    _INSTALLED.add(id(events))
    events.init_command_line_parser.add_listener(add_arguments)

    def on_init(environment: Any, runner: Any = None, **_: Any) -> None:
        if runner is not None:
            swarm_for(environment).attach(runner)

    events.init.add_listener(on_init)
    events.init.add_listener(watch_runner)  # die with the runner (locustfiles/lifeline.py)
    events.init.add_listener(calm_interrupt)  # Ctrl-C ends the run between requests
    install_join(events)  # workers prove they belong (locustfiles/join.py)
    events.init.add_listener(wait_for_go)  # last: pools drawn, lifeline watched (go.py)
