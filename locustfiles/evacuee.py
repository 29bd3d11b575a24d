"""The Locust user that carries evacuees: take the next one, wait for its time, send, record.

A Locust user here is a *carrier*, not an evacuee: a bounded pool of them (``-u``, the
scenario's ``max_in_flight``) carries however many evacuees arrive, one at a time each. The
kind of evacuee (plain or infiltrator) is in the plan, so there is one user class.

Retries follow DESIGN "Contracts: Ledger": connection errors, 503 and other 5xx are retried
with the same ``wish_id`` (the idempotency key), at most three attempts, with a short backoff
that honours ``Retry-After`` up to a second. Every attempt is a ledger line and a Locust
request. Locust's stats count an expected rejection (a 4xx for ``expect: reject``) as a
success, so its failure ratio means what it says: the pipeline misbehaved.

The hot path is kept cheap (a body serialised from pre-encoded pool texts, cached headers,
one formatted ledger line per attempt): ``exodus bench swarm`` compares it with a bare
FastHttpUser, with a goal of 90% of its throughput.
"""

from __future__ import annotations

import logging
import time

import gevent
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser

from locustfiles.answers import judge, retry_delay, should_retry
from locustfiles.generate import PlannedWish
from locustfiles.ledger import ledger_line
from locustfiles.swarm import Swarm, swarm_for

PATH = "/api/wishes"
NAME_ACCEPT = "/api/wishes"
NAME_REJECT = "/api/wishes [bad input]"

log = logging.getLogger(__name__)


class Evacuee(FastHttpUser):
    """Carries evacuees from the swarm's schedule to ``POST /api/wishes``."""

    wait_time = constant(0)
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.swarm: Swarm = swarm_for(self.environment)

    @task
    def leave_earth(self) -> None:
        swarm = self.swarm
        ticket = swarm.next_ticket()
        if ticket is None:
            swarm.idle()
            return
        wish, intended_at, prefix = ticket
        delay = intended_at - time.time()
        if delay > 0:
            gevent.sleep(delay)
            if not swarm.still_wanted():
                return
        try:
            status, response_ms = self._deliver(swarm, wish, intended_at, prefix)
        except Exception:  # a bug here must not stall the run waiting for this evacuee
            log.exception("evacuee %s could not be delivered", wish.n)
            swarm.broken(wish, intended_at)
            return
        swarm.finished(status, wish.expect, response_ms)

    def _deliver(
        self, swarm: Swarm, wish: PlannedWish, intended_at: float, prefix: str
    ) -> tuple[int, float]:
        """Send until an answer that is not retried; the final (status, response_ms)."""
        headers = swarm.headers_for(wish)
        accept = wish.expect == "accept"
        name = NAME_ACCEPT if accept else NAME_REJECT
        client = self.client
        attempt = 0
        while True:
            attempt += 1
            sent_at = time.time()
            if attempt == 1:
                swarm.started(sent_at - intended_at)
            begin = time.perf_counter()
            with client.post(
                PATH, data=wish.raw, headers=headers, name=name, catch_response=True
            ) as response:
                latency_ms = (time.perf_counter() - begin) * 1000.0
                status = response.status_code or 0
                reason = None if status == 202 and accept else judge(wish.expect, status)
                if reason is None:
                    response.success()
                else:
                    response.failure(reason)
            answered_at = time.time()
            response_ms = (answered_at - intended_at) * 1000.0
            swarm.attempted(
                ledger_line(
                    prefix,
                    attempt=attempt,
                    status=status,
                    intended_at=intended_at,
                    sent_at=sent_at,
                    latency_ms=latency_ms,
                    response_ms=response_ms,
                    n=wish.n,
                ),
                latency_ms,
            )
            if status == 202 or not should_retry(status, attempt):
                return status, response_ms
            headers_in = response.headers  # None after a connection error
            retry_after = None if headers_in is None else headers_in.get("retry-after")
            gevent.sleep(retry_delay(attempt, retry_after))
