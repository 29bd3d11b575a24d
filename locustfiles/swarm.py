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
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.app_under_test.tracing import swarm_traceparent, trace_id_for
from exodus2045.locustfiles.arrivals import LeaseDesk, LeasedTickets, LocalTickets
from exodus2045.locustfiles.clock import ClockBook, attach_clock
from exodus2045.locustfiles.generate import POOL_SIZE, build_pools, plan_sends
from exodus2045.locustfiles.headers import Template, request_headers, signed_headers
from exodus2045.locustfiles.join import install_join
from exodus2045.locustfiles.ledger import LedgerFile, prefix_of
from exodus2045.locustfiles.lifeline import watch_runner
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
    resync_clock,
)
from exodus2045.locustfiles.spill import open_spill
from exodus2045.locustfiles.tally import SwarmTally, write_summary
from exodus2045.locustfiles.worker_watch import watch_workers
from locust.runners import MasterRunner, WorkerRunner

MSG_LEASE = "exodus_lease"  # worker -> master: {"token", "want"}
MSG_GRANT = "exodus_grant"  # master -> worker: {"token", "start", "stop"}
MSG_LEDGER = "exodus_ledger"  # worker -> master: {"token", "lines", "tally"}
MSG_SECRET = "exodus_secret"  # master -> workers: {"run_id", "key", "id_secret"} (hex)
FLUSH_EVERY_S = 0.5
SHIP_EVERY_S = 0.25
PLAN_AHEAD = 32  # evacuees planned in one go when a user finds none ready
_CUT = "\x00"  # where the wish (and trace) id go in a plain evacuee's ledger prefix

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
        self._secrets: dict[str, RunSecret] = {}  # a worker's, by run id, from the master
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
            runner.register_message(MSG_LEASE, self._on_lease)
            runner.register_message(MSG_LEDGER, self._on_ledger)
        elif isinstance(runner, WorkerRunner):
            self.role = ROLE_WORKER
            runner.register_message(MSG_GRANT, self._on_grant)
            runner.register_message(MSG_SECRET, self._on_secret)
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
            resync_clock()

    # -- the hot path (called by Evacuee users) --------------------------------------------
    def next_ticket(self) -> Ticket | None:
        """The next evacuee to carry (see :data:`exodus2045.locustfiles.run.Ticket`), or None.

        Evacuees are planned :data:`PLAN_AHEAD` at a time (:meth:`_plan_ahead`) and handed
        out in order; a number taken but not yet handed out when the test stops is never sent
        (counted as dropped), exactly like one never taken.
        """
        run = self.run
        if run is None or run.stopping:
            return None
        ready = run.ready
        if not ready:
            if run.tickets is None or run.pools is None or not self._plan_ahead(run):
                return None
            if run is not self.run or run.stopping:  # the lease wait let the test stop
                return None
        run.in_flight += 1
        return ready.popleft()

    def _plan_ahead(self, run: Run) -> bool:
        """Take the next evacuee numbers (up to PLAN_AHEAD in hand) and plan them in one go."""
        tickets = run.tickets
        n = tickets.take()  # may wait for a lease
        if n is None:
            return False
        numbers = [n]
        take = tickets.take_nowait
        for _ in range(PLAN_AHEAD - 1):
            n = take()
            if n is None:
                break
            numbers.append(n)
        plan = run.plan
        run_id = plan.run_id
        t0, offset = run.t0, run.schedule.offset
        headers_cache = run.headers
        plain_prefix = run.plain_prefix
        if not plain_prefix:
            for destination in ("mars", "jupiter"):
                text = prefix_of(_CUT, run_id, "evacuee", destination, None, "accept", _CUT)
                plain_prefix[destination] = tuple(text.split(_CUT))
        append = run.ready.append
        for (
            n,
            wish_id,
            kind,
            destination,
            raw,
            content_type,
            payload,
            expect,
            user_agent,
        ) in plan_sends(plan, numbers, run.pools):
            headers = headers_cache.get((content_type, user_agent))
            if headers is None:
                headers = self._headers(run, content_type, user_agent)
            trace_id = trace_id_for(wish_id)
            if kind == "evacuee":  # most of them: the same prefix but for the wish/trace ids
                head, mid, tail = plain_prefix[destination]
                prefix = head + wish_id + mid + trace_id + tail
            else:
                prefix = prefix_of(wish_id, run_id, kind, destination, payload, expect, trace_id)
            signed = signed_headers(headers, run.key, run_id, wish_id, raw)
            append((n, t0 + offset(n), raw, signed, expect, prefix,
                    swarm_traceparent(trace_id)))
        return True

    def _headers(self, run: Run, content_type: str, user_agent: str) -> Template:
        """The read-only headers template for one (content type, user agent), made once per run.

        Read-only on purpose (:mod:`exodus2045.locustfiles.headers`): the evacuee hands each
        request a fresh copy, so nothing a dependency writes into one outlives that request.
        """
        headers = run.headers[(content_type, user_agent)] = request_headers(
            content_type, user_agent, run.plan.run_id
        )
        return headers

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
                self._complete(run)
        elif self._worker_drained(run):
            self._ship(run)  # tell the master at once: this worker is done
        elif status == 202 and run.spill is None:
            self._ship_now(run)  # acknowledged, and no local copy: to the master first

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
            self._complete(self.run)

    def _begin(self) -> Run:
        run = begin_run(self.role, self.environment.parsed_options, self._secrets.pop)
        plan = run.plan
        if self.role != ROLE_WORKER and run.key_minted:
            for listener in self.key_listeners:
                listener(plan.run_id, run.key)
        if self.role == ROLE_MASTER:  # before Locust sends the spawn orders (same socket)
            secret = RunSecret(run.key, plan.id_secret)
            self.environment.runner.send_message(MSG_SECRET, secret.to_message(plan.run_id))
        if self.role == ROLE_LOCAL:
            run.tickets = LocalTickets(plan.evacuees)
        elif self.role == ROLE_WORKER:
            run.tickets = LeasedTickets(lambda want: self._ask_lease(run, want), run.lease_size)
            run.greenlets.append(gevent.spawn(self._courier, run))
            run.spill = open_spill(str(getattr(self.environment.runner, "client_id", "")))
        else:
            run.desk = LeaseDesk(plan.evacuees)
            run.greenlets.append(gevent.spawn(watch_workers, self, run))
        if self.role != ROLE_WORKER:
            run.ledger = LedgerFile(run.options.ledger)
            run.greenlets.append(gevent.spawn(self._flusher, run))
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
            self._ship(run)
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
            self._ship(run)
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
                self._ship(run)
            except Exception as exc:  # the master may be gone already; nothing left to do
                log.warning("last ledger lines not shipped to the master: %s", exc)
        else:
            self._save(run)
        self._close(run)

    def _complete(self, run: Run) -> None:
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
        if run.ledger is not None:
            try:
                run.ledger.flush()
            except ExodusError as exc:
                log.error("%s", exc)
                self.failed = True
        summary = run.summary(self.role)
        if self.clock_book is not None:
            summary["clocks"] = self.clock_book.summary()
        try:
            write_summary(run.summary_path, summary)
        except OSError as exc:
            log.error("cannot write %s: %s", run.summary_path, exc)
            self.failed = True

    def _close(self, run: Run) -> None:
        for greenlet in run.greenlets:
            greenlet.kill(block=False)
        if run.spill is not None:
            run.spill.close()
        if run.ledger is not None:
            try:
                run.ledger.close()
            except (ExodusError, OSError) as exc:
                log.error("%s", exc)
                self.failed = True

    def _retire(self, run: Run | None) -> None:
        """A new test starts in the same process (web UI): close the previous run."""
        if run is not None:
            run.done.set()
            if self.role != ROLE_WORKER:
                self._save(run)
            self._close(run)

    # -- background greenlets --------------------------------------------------------------
    def _flusher(self, run: Run) -> None:
        while not run.ledger.closed:
            gevent.sleep(FLUSH_EVERY_S)
            try:
                run.ledger.flush()
            except ExodusError as exc:
                log.error("%s", exc)
                self.failed = True
                return

    def _courier(self, run: Run) -> None:
        while True:
            gevent.sleep(SHIP_EVERY_S)
            try:
                self._ship(run)
            except Exception as exc:  # a hiccup talking to the master must not end shipping
                log.warning("ledger lines not shipped this time: %s", exc)

    # -- distributed messages --------------------------------------------------------------
    def _ship(self, run: Run) -> None:
        """Worker: send pending ledger lines and the tally delta to the master."""
        if not run.outbox and run.tally.is_empty():
            return
        lines, run.outbox = run.outbox, []
        delta, run.tally = run.tally, SwarmTally()
        data = {"token": run.token, "lines": lines, "tally": delta.to_message()}
        try:
            self.environment.runner.send_message(MSG_LEDGER, data)
        except Exception:
            run.outbox[:0] = lines  # keep them for the next try, in order
            run.tally.merge(delta.to_message())
            raise

    def _ship_now(self, run: Run) -> None:
        """A worker without a spill (on another host) ships an acknowledged line before its
        carrier takes the next evacuee, so a ``kill -9`` loses at most the answers still in
        flight, not a quarter second of acknowledged lines (the courier's batching)."""
        try:
            self._ship(run)
        except Exception as exc:  # kept in the outbox; the courier tries again
            log.warning("acknowledged lines not shipped at once: %s", exc)

    def _worker_drained(self, run: Run) -> bool:
        tickets = run.tickets
        return bool(
            tickets.exhausted and not tickets.ranges and not run.ready and run.in_flight == 0
        )

    def _ask_lease(self, run: Run, want: int) -> None:
        self.environment.runner.send_message(MSG_LEASE, {"token": run.token, "want": want})

    def _on_lease(self, environment: Any, msg: Any) -> None:
        run = self.run
        token = msg.data.get("token")
        start = stop = 0
        if run is not None and run.desk is not None and token == run.token:
            workers = max(1, environment.runner.worker_count)
            start, stop = run.desk.lease(int(msg.data.get("want", 1)), workers)
        data = {"token": token, "start": start, "stop": stop}
        environment.runner.send_message(MSG_GRANT, data, client_id=msg.node_id)

    def _on_secret(self, environment: Any, msg: Any) -> None:
        try:
            self._secrets[str(msg.data["run_id"])] = RunSecret.from_message(msg.data)
        except (KeyError, TypeError, ValueError):
            log.warning("a malformed run secret from the master was ignored")

    def _on_grant(self, environment: Any, msg: Any) -> None:
        run = self.run
        if run is not None and run.tickets is not None and msg.data.get("token") == run.token:
            run.tickets.grant(int(msg.data["start"]), int(msg.data["stop"]))
            if self._worker_drained(run):
                self._ship(run)

    def _on_ledger(self, environment: Any, msg: Any) -> None:
        run = self.run
        if run is None or run.ledger is None or msg.data.get("token") != run.token:
            log.warning("ledger lines from %s for another run ignored", msg.node_id)
            return
        run.workers.add(msg.node_id)
        run.ledger.extend(msg.data.get("lines", ()))
        run.tally.merge(msg.data.get("tally", {}))
        if run.tally.counts["finished"] >= run.plan.evacuees:
            self._complete(run)


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
    install_join(events)  # workers prove they belong (locustfiles/join.py)
