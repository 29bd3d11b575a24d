"""What a distributed swarm's master and workers say to each other, as Locust messages.

The master carries no evacuees: it leases ranges of evacuee numbers to workers
(``exodus_lease`` / ``exodus_grant``), sends them the run's secrets before the spawn orders
(``exodus_secret``: ``parsed_options`` is what a cross-site ``/swarm`` post can rewrite), and
writes the ledger lines workers ship it (``exodus_ledger``, with a tally delta) every
:data:`SHIP_EVERY_S`, and at once when a worker's last evacuee is done. Every message carries
the run's token, so a stale run's lines are told apart and ignored.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gevent

from exodus2045.locustfiles.run import Run, RunSecret
from exodus2045.locustfiles.tally import SwarmTally

if TYPE_CHECKING:
    from exodus2045.locustfiles.swarm import Swarm

MSG_LEASE = "exodus_lease"  # worker -> master: {"token", "want"}
MSG_GRANT = "exodus_grant"  # master -> worker: {"token", "start", "stop"}
MSG_LEDGER = "exodus_ledger"  # worker -> master: {"token", "lines", "tally"}
MSG_SECRET = "exodus_secret"  # master -> workers: {"run_id", "key", "id_secret"} (hex)
SHIP_EVERY_S = 0.25

log = logging.getLogger(__name__)


def worker_drained(run: Run) -> bool:
    """A worker has nothing left: no range to ask for, none in hand, none in flight."""
    tickets = run.tickets
    return bool(tickets.exhausted and not tickets.ranges and not run.ready and run.in_flight == 0)


class Messages:
    """One swarm's side of the conversation (a master's or a worker's)."""

    def __init__(self, swarm: Swarm) -> None:
        self.swarm = swarm
        self.secrets: dict[str, RunSecret] = {}  # a worker's, by run id, from the master

    @property
    def runner(self) -> Any:
        return self.swarm.environment.runner

    def register_master(self, runner: Any) -> None:
        runner.register_message(MSG_LEASE, self._on_lease)
        runner.register_message(MSG_LEDGER, self._on_ledger)

    def register_worker(self, runner: Any) -> None:
        runner.register_message(MSG_GRANT, self._on_grant)
        runner.register_message(MSG_SECRET, self._on_secret)

    # -- a master's -------------------------------------------------------------------------
    def send_secret(self, run: Run, secret: RunSecret) -> None:
        """Before Locust sends the spawn orders (same socket, so workers have it first)."""
        self.runner.send_message(MSG_SECRET, secret.to_message(run.plan.run_id))

    def _on_lease(self, environment: Any, msg: Any) -> None:
        run = self.swarm.run
        token = msg.data.get("token")
        start = stop = 0
        if run is not None and run.desk is not None and token == run.token:
            workers = max(1, environment.runner.worker_count)
            start, stop = run.desk.lease(int(msg.data.get("want", 1)), workers)
        data = {"token": token, "start": start, "stop": stop}
        environment.runner.send_message(MSG_GRANT, data, client_id=msg.node_id)

    def _on_ledger(self, environment: Any, msg: Any) -> None:
        run = self.swarm.run
        if run is None or run.ledger is None or msg.data.get("token") != run.token:
            log.warning("ledger lines from %s for another run ignored", msg.node_id)
            return
        run.workers.add(msg.node_id)
        run.ledger.extend(msg.data.get("lines", ()))
        run.tally.merge(msg.data.get("tally", {}))
        if run.tally.counts["finished"] >= run.plan.evacuees:
            self.swarm.complete(run)

    # -- a worker's -------------------------------------------------------------------------
    def ask_lease(self, run: Run, want: int) -> None:
        self.runner.send_message(MSG_LEASE, {"token": run.token, "want": want})

    def ship(self, run: Run) -> None:
        """Send pending ledger lines and the tally delta to the master."""
        if not run.outbox and run.tally.is_empty():
            return
        lines, run.outbox = run.outbox, []
        delta, run.tally = run.tally, SwarmTally()
        data = {"token": run.token, "lines": lines, "tally": delta.to_message()}
        try:
            self.runner.send_message(MSG_LEDGER, data)
        except Exception:
            run.outbox[:0] = lines  # keep them for the next try, in order
            run.tally.merge(delta.to_message())
            raise

    def ship_now(self, run: Run) -> None:
        """A worker without a spill (on another host) ships an acknowledged line before its
        carrier takes the next evacuee, so a ``kill -9`` loses at most the answers still in
        flight, not a quarter second of acknowledged lines (the courier's batching)."""
        try:
            self.ship(run)
        except Exception as exc:  # kept in the outbox; the courier tries again
            log.warning("acknowledged lines not shipped at once: %s", exc)

    def courier(self, run: Run) -> None:
        """A greenlet for the run: ship every :data:`SHIP_EVERY_S` until it is killed."""
        while True:
            gevent.sleep(SHIP_EVERY_S)
            try:
                self.ship(run)
            except Exception as exc:  # a hiccup talking to the master must not end shipping
                log.warning("ledger lines not shipped this time: %s", exc)

    def _on_secret(self, environment: Any, msg: Any) -> None:
        try:
            self.secrets[str(msg.data["run_id"])] = RunSecret.from_message(msg.data)
        except (KeyError, TypeError, ValueError):
            log.warning("a malformed run secret from the master was ignored")

    def _on_grant(self, environment: Any, msg: Any) -> None:
        run = self.swarm.run
        if run is not None and run.tickets is not None and msg.data.get("token") == run.token:
            run.tickets.grant(int(msg.data["start"]), int(msg.data["stop"]))
            if worker_drained(run):
                self.ship(run)
