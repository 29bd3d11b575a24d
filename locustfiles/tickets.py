"""Turning evacuee numbers into ready tickets: planned, signed with the run key, prefixed.

The swarm hands users :data:`exodus2045.locustfiles.run.Ticket` tuples, and everything that
does not change between attempts is made here, once per evacuee and a batch at a time
(:data:`PLAN_AHEAD`): the body bytes from the plan, the read-only headers carrying the
run-key signature (``X-Exodus-Sig``, :mod:`exodus2045.app_under_test.runkey`) and the W3C
``traceparent`` that starts the wish's trace (also on the ticket by itself), and the ledger
prefix (:mod:`exodus2045.locustfiles.ledger`). A user's hot path then only sends and formats numbers.
"""

from __future__ import annotations

from exodus2045.locustfiles.generate import plan_sends
from exodus2045.locustfiles.headers import Template, request_headers, signed_headers
from exodus2045.locustfiles.ledger import prefix_of
from exodus2045.locustfiles.run import Run

PLAN_AHEAD = 32  # evacuees planned in one go when a user finds none ready
_CUT = "\x00"  # where the wish (and trace) id go in a plain evacuee's ledger prefix


def plan_ahead(run: Run) -> bool:
    """Take the next evacuee numbers (up to PLAN_AHEAD in hand) and plan them in one go.

    False when no number is left. Taking the first number may wait for a lease (a worker);
    the rest are only those already in hand, so a batch never waits twice.
    """
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
            headers = headers_for(run, content_type, user_agent)
        trace_id = wish_id.replace("-", "")  # == trace_id_for(wish_id): see _traceparent
        if kind == "evacuee":  # most of them: the same prefix but for the wish/trace ids
            head, mid, tail = plain_prefix[destination]
            prefix = head + wish_id + mid + trace_id + tail
        else:
            prefix = prefix_of(wish_id, run_id, kind, destination, payload, expect, trace_id)
        traceparent = _traceparent(trace_id)
        signed = signed_headers(headers, run.key, run_id, wish_id, raw, traceparent)
        append((n, t0 + offset(n), raw, signed, expect, prefix, traceparent))
    return True


def _traceparent(trace_id: str) -> str:
    """:func:`exodus2045.app_under_test.tracing.swarm_traceparent`, for a planned wish's id.

    The planner's wish ids are lower-case version-4 UUIDs (``generate._wish_id``), so their
    trace id is the 32 hex digits themselves and its second half (which holds the variant
    digit, never all zeros) is the span id: no validation, hashing or fallback needed per
    evacuee. tests/test_swarm_plan.py pins both equal to the tracing module's for a plan.
    """
    return f"00-{trace_id}-{trace_id[16:]}-01"


def headers_for(run: Run, content_type: str, user_agent: str) -> Template:
    """The read-only headers template for one (content type, user agent), made once per run.

    Read-only on purpose (:mod:`exodus2045.locustfiles.headers`): the evacuee hands each
    request a fresh copy, so nothing a dependency writes into one outlives that request.
    """
    headers = run.headers[(content_type, user_agent)] = request_headers(
        content_type, user_agent, run.plan.run_id
    )
    return headers
