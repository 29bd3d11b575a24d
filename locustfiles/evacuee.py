"""The Locust user that carries evacuees: take the next one, wait for its time, send, record.

A Locust user here is a *carrier*, not an evacuee: a bounded pool of them (``-u``, the
scenario's ``max_in_flight``) carries however many evacuees arrive, one at a time each. The
kind of evacuee (plain or infiltrator) is in the plan, so there is one user class.

Retries follow docs/architecture.md "Ledger": connection errors, 429, 503 and other 5xx are
retried with the same ``wish_id`` (the idempotency key), at most three attempts, with a short
backoff that honours ``Retry-After`` up to a second. Every attempt is a ledger line and a Locust
request. Locust's stats count an expected rejection (a 4xx for ``expect: reject``) as a
success, so its failure ratio means what it says: the pipeline misbehaved.

The hot path is kept cheap: evacuees are planned a batch at a time into ready tickets
(body bytes from pre-encoded pool texts, read-only headers made once per evacuee with its
signature and ``traceparent``, the ledger prefix), one clock read each for the wall-clock send
time and the service time, and one ``%`` format per ledger line. Requests go out through the
user's own :class:`~exodus2045.locustfiles.sender.WishSender` (geventhttpclient's public
``HTTPClient``, the core of Locust's FastHttpSession without its per-request layers) and each
attempt is reported through Locust's public ``request`` event, exactly once, as its
``catch_response`` path would. Each request gets its own small headers dict copied from the
ticket's read-only headers (:mod:`exodus2045.locustfiles.headers`). ``exodus bench swarm``
compares it with a bare FastHttpUser, with a goal of 95% of its throughput per CPU-second.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser
from locust.exception import CatchResponseError

from exodus2045.locustfiles.answers import judge, retry_delay, should_retry
from exodus2045.locustfiles.headers import Template, fresh
from exodus2045.locustfiles.ledger import LINE
from exodus2045.locustfiles.run import Ticket
from exodus2045.locustfiles.sender import WishSender
from exodus2045.locustfiles.swarm import Swarm, swarm_for

PATH = "/api/wishes"
NAME_ACCEPT = "/api/wishes"
NAME_REJECT = "/api/wishes [bad input]"
METHOD = "POST"

log = logging.getLogger(__name__)
_perf_counter = time.perf_counter
_time = time.time


def post_wish(sender: WishSender, raw: bytes, headers: Template) -> tuple[int, Any, int]:
    """POST one wish with a headers dict of its own: ``(status, response, body length)``.

    ``headers`` are the ticket's read-only headers (signature and W3C ``traceparent``
    included); whatever the send path might do to the dict it is given dies with the request.
    """
    return sender.post(raw, fresh(headers))


class Evacuee(FastHttpUser):
    """Carries evacuees from the swarm's schedule to ``POST /api/wishes``.

    Still a FastHttpUser: Locust checks its host and timeouts as for any, and ``self.client``
    (Locust's session) stays there for anything else; wishes go through ``self.sender``.
    """

    wait_time = constant(0)
    network_timeout = 10.0
    connection_timeout = 5.0

    def on_start(self) -> None:
        self.swarm: Swarm = swarm_for(self.environment)
        self.sender = WishSender(
            self.host, PATH, connection_timeout=self.connection_timeout,
            network_timeout=self.network_timeout, insecure=self.insecure,
        )  # fmt: skip
        self._report = self.environment.events.request.fire

    @task
    def leave_earth(self) -> None:
        swarm = self.swarm
        ticket = swarm.next_ticket()
        if ticket is None:
            swarm.idle()
            return
        intended_at = ticket[1]
        now = swarm.now()  # the master's clock on a worker (locustfiles/clock.py)
        if intended_at > now:
            gevent.sleep(intended_at - now)
            if not swarm.still_wanted():
                return
            now = swarm.now()
        try:
            status, response_ms = self._deliver(swarm, ticket, now)
        except Exception:  # a bug here must not stall the run waiting for this evacuee
            log.exception("evacuee %s could not be delivered", ticket[0])
            swarm.broken(ticket)
            return
        swarm.finished(status, ticket[4], response_ms)

    def _deliver(self, swarm: Swarm, ticket: Ticket, sent_at: float) -> tuple[int, float]:
        """Send until an answer that is not retried; the final (status, response_ms).

        One Locust ``request`` event per attempt, a failure (``CatchResponseError`` with the
        judge's reason, as ``catch_response`` reports one) only when :func:`judge` says so,
        so an expected rejection counts as a success. A body that broke off after the status
        line leaves the status to decide, as for any other answer.
        """
        n, intended_at, raw, headers, expect, prefix, _ = ticket
        accept = expect == "accept"
        name = NAME_ACCEPT if accept else NAME_REJECT
        post = self.sender.post
        url = self.sender.url
        report = self._report
        attempt = 0
        while True:
            attempt += 1
            started = _time()
            begin = _perf_counter()
            status, response, length = post(raw, fresh(headers))
            latency_ms = (_perf_counter() - begin) * 1000.0
            reason = None if status == 202 and accept else judge(expect, status)
            report(
                request_type=METHOD, name=name, response_time=latency_ms,
                response_length=length, response=response, context=self.context(), url=url,
                exception=None if reason is None else CatchResponseError(reason),
                start_time=started,
            )  # fmt: skip
            response_ms = (sent_at - intended_at) * 1000.0 + latency_ms
            swarm.attempted(
                LINE % (prefix, attempt, status, intended_at, sent_at, latency_ms, response_ms, n),
                latency_ms,
                sent_at - intended_at if attempt == 1 else None,
            )
            if status == 202 or not should_retry(status, attempt):
                return status, response_ms
            retry_after = None if response is None else response.get("retry-after")
            gevent.sleep(retry_delay(attempt, retry_after))
            sent_at = swarm.now()
