"""``POST /api/wishes`` and ``GET /api/wishes/{id}``: the hot path of every run.

A wish is answered 202 only after its group commit returned (claim + queue message in one
SQLite transaction), so a 202 can never be lost by a ``kill -9``. The path avoids per-request
Pydantic models and FastAPI's dependency solving (the POST is a plain ASGI route, served
ahead of the middleware stack by :mod:`exodus2045.app_under_test.frontend.direct` and
documented in the OpenAPI schema by hand): raw body, ``json.loads``,
:func:`validate_submission`, bytes out. The seeded
flaws ``early-ack``, ``shed-under-load``, ``ua-500``, ``no-validation`` and ``false-reject``
live here, each at the one line whose sound behaviour it replaces; ``skip-nfc`` has its
frontend half here (the message is queued as sent) and its other half in the parser.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Header, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from exodus2045.app_under_test.backends.local.intake import CONFLICT, QUEUED, Submission
from exodus2045.app_under_test.errors import InvalidWish, QueueUnavailable
from exodus2045.app_under_test.frontend import pages
from exodus2045.app_under_test.frontend.admin import is_presenter
from exodus2045.app_under_test.frontend.body import (
    FORM,
    HARD_BODY_MAX_BYTES,
    claims_swarm,
    content_kind,
    declared_length,
    decode_form,
    decode_json,
    decode_lenient,
    queued_body,
    read_limited,
    run_scope,
    wanted_headers,
)
from exodus2045.app_under_test.frontend.problems import Problem
from exodus2045.app_under_test.frontend.responses import (
    JSON_TYPE_BYTES,
    NO_STORE,
    RawResponse,
    html_response,
    json_response,
    prefers_html,
    problem_answer,
    public_wish,
)
from exodus2045.app_under_test.frontend.state import FrontendState
from exodus2045.app_under_test.tracing import TRACEPARENT, end_hop, start_hop
from exodus2045.app_under_test.wish import (
    BODY_MAX_BYTES,
    DESTINATIONS,
    EVACUEE_MAX,
    MESSAGE_MAX,
    content_digest,
    validate_submission,
)

RETRY_AFTER_S = "1"
FALSE_REJECT_EVERY = 32  # the false-reject flaw refuses the 8th, 40th, 72nd, ... valid wish
FALSE_REJECT_FIRST = 8  # (1 in 32, about 3%, exactly that many: a short test run always sees it)
WISH_ID_LOOKUP_MAX = 200
#: The shed-under-load flaw drops (after a 202) every wish that arrives while this many
#: others wait for the queue: nothing is lost at a gentle pace, wishes are lost under load.
SHED_WHEN_ENQUEUING = 4
#: What ``quote(wish_id, safe="")`` leaves as it is (a canonical UUID always is).
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
SUBMIT_PATH = "/api/wishes"

#: The documented request body; its limits are the wish model's own (one definition).
SUBMISSION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["evacuee", "destination", "message"],
    "additionalProperties": False,
    "properties": {
        "wish_id": {"anyOf": [{"type": "string", "format": "uuid"},
                              {"type": "string", "maxLength": 0}, {"type": "null"}],
                    "description": "idempotency key; minted by the server if absent, empty "
                                   "or null (an empty form field means absent)"},
        "evacuee": {"type": "string", "minLength": 1, "maxLength": EVACUEE_MAX},
        "destination": {"type": "string", "enum": list(DESTINATIONS)},
        "message": {"type": "string", "minLength": 1, "maxLength": MESSAGE_MAX},
    },
}
OPENAPI_POST = {
    "summary": "Submit a wish (JSON or form); 202 once durably queued",
    "operationId": "submit_wish",
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": SUBMISSION_SCHEMA},
            "application/x-www-form-urlencoded": {"schema": SUBMISSION_SCHEMA},
        },
    },
    "responses": {
        "202": {"description": "durably queued (or already queued with the same content)",
                "headers": {"Location": {"schema": {"type": "string"}}},
                "content": {
                    "application/json": {"schema": {
                        "type": "object", "required": ["wish_id", "status"],
                        "properties": {"wish_id": {"type": "string"},
                                       "status": {"type": "string", "enum": ["queued"]}}}},
                    "text/html": {"schema": {"type": "string"}},
                }},
        "400": {"description": "the body is not JSON or a form we can read"},
        "408": {"description": "the body did not arrive in time"},
        "409": {"description": "this wish_id was queued with different content"},
        "413": {"description": "the body is larger than 16 KiB"},
        "415": {"description": "neither application/json nor a form, or not UTF-8"},
        "422": {"description": "a field is missing or out of bounds (the problem names it)"},
        "429": {"description": "this client sends too fast (audience wishes only)"},
        "503": {"description": "the queue cannot take wishes now; retry with the same wish_id"},
    },
}


log = logging.getLogger("exodus.frontend")
#: At most one "queue unavailable" line per this many seconds (with the count since the
#: last): a fault window gets its lines for the report's +-3 s panel, not one per wish.
UNAVAILABLE_LOG_EVERY_S = 1.0


class WishIntake:
    """The submit route, bound to one frontend's state."""

    def __init__(self, state: FrontendState) -> None:
        self.state = state
        self.metrics = state.metrics
        self.lenient = "no-validation" in state.flaws
        self.early_ack = "early-ack" in state.flaws
        self.ua_500 = "ua-500" in state.flaws
        self.nfc = "skip-nfc" not in state.flaws  # the flaw: the message is queued as sent
        self.false_reject = "false-reject" in state.flaws
        self.shed = "shed-under-load" in state.flaws
        self.enqueuing = 0  # submits waiting for the queue now (how backed up the enqueue is)
        self.valid_seen = 0  # valid wishes this process has judged (for false-reject)
        self.unavailable = 0  # 503s not yet logged
        self.unavailable_logged_at = 0.0
        self.limit = HARD_BODY_MAX_BYTES if self.lenient else BODY_MAX_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The route as a plain ASGI app (the frontend serves it ahead of the framework's
        middleware stack: :mod:`exodus2045.app_under_test.frontend.direct`)."""
        response = await self.answer(scope, receive)
        await response(scope, receive, send)

    async def post(self, request: Request) -> ASGIApp:
        """The same route as a Starlette endpoint (reached when served through the stack)."""
        return await self.answer(request.scope, request.receive)

    async def answer(self, scope: Scope, receive: Receive) -> ASGIApp:
        """The response to one submission, once the wish is durably queued (or refused)."""
        received_at = time.time()
        headers = wanted_headers(scope["headers"])
        run_id, source = None, "audience"
        html = False
        try:
            kind = content_kind(headers.get("content-type"), lenient=self.lenient)
            html = kind == FORM and prefers_html(headers.get("accept"))
            signed = claims_swarm(headers)
            if not signed:  # refuse an audience flood before reading its bodies
                self._rate_limit(scope)
            declared_length(headers.get("content-length"), self.limit)
            raw = await read_limited(receive, self.limit)
            if signed:
                run_id, source = run_scope(headers, raw, self.state.run_keys)
                if source == "audience":  # a forged or stale signature: just a visitor
                    self._rate_limit(scope)
            clean = self._validate(raw, kind)
            if self.false_reject and self._falsely_refused():  # the flaw: a valid wish is
                raise Problem(415, "unsupported-media-type",  # told its good type is bad
                              "content type is not supported; send application/json or a form",
                              field="content-type")
        except Problem as problem:
            self.metrics.rejected(problem.status)
            return problem_answer(problem, html=html)
        # Only the swarm's trace is continued; an audience request starts its own.
        parent = headers.get(TRACEPARENT) if source == "swarm" else None
        return await self._enqueue(clean, run_id, source, headers.get("user-agent", ""), html,
                                   received_at, parent)

    def _log_unavailable(self, code: str) -> None:
        self.unavailable += 1
        now = time.monotonic()
        if now - self.unavailable_logged_at >= UNAVAILABLE_LOG_EVERY_S:
            log.warning("queue unavailable (%s): %d wish%s answered 503 since the last line",
                        code, self.unavailable, "" if self.unavailable == 1 else "es")
            self.unavailable, self.unavailable_logged_at = 0, now

    def _falsely_refused(self) -> bool:
        """The ``false-reject`` flaw's pick: one valid wish in 32 this process judges."""
        self.valid_seen += 1
        return self.valid_seen % FALSE_REJECT_EVERY == FALSE_REJECT_FIRST

    def _rate_limit(self, scope: Scope) -> None:
        buckets = self.state.buckets
        if not buckets.enabled:
            return
        client = scope.get("client")
        wait = buckets.take(client[0] if client else "?")
        if wait > 0:
            raise Problem(429, "too-many-wishes", "one wish at a time, please",
                          headers={"retry-after": str(max(1, math.ceil(wait)))})

    def _validate(self, raw: bytes, kind: str) -> dict[str, Any]:
        try:
            if self.lenient:  # the no-validation flaw: anything that arrived is a wish
                return validate_submission(decode_lenient(raw, kind), strict=False)
            data = decode_form(raw) if kind == FORM else decode_json(raw)
            return validate_submission(data, nfc=self.nfc)
        except InvalidWish as exc:
            raise Problem(422, "invalid-wish", exc.detail, field=exc.field) from None
        except RecursionError:
            raise Problem(400, "invalid-json", "the body nests too deeply", field="body") from None

    async def _enqueue(
        self, clean: dict[str, Any], run_id: str | None, source: str, agent: str, html: bool,
        received_at: float, parent: str | None = None,
    ) -> ASGIApp:
        wish_id = clean["wish_id"]
        body = queued_body(clean, run_id, source, received_at)
        span, traceparent = start_hop("accept", parent, received_at,
                                      {"exodus.wish_id": wish_id, "exodus.source": source,
                                       "exodus.run_id": run_id})
        submission = Submission(wish_id, content_digest(clean), body, {TRACEPARENT: traceparent})
        try:
            return await self._commit(submission, html, agent, traceparent)
        finally:
            end_hop(span)

    async def _commit(self, submission: Submission, html: bool, agent: str,
                      traceparent: str | None = None) -> ASGIApp:
        wish_id = submission.wish_id
        batcher = self.state.batcher
        assert batcher is not None, "the frontend was not opened"
        if self.early_ack:  # the flaw: 202 now, enqueue later, failures ignored
            _fire_and_forget(batcher, submission)
            outcome = QUEUED
        elif self.shed and self.enqueuing >= SHED_WHEN_ENQUEUING:  # the flaw: the enqueue is
            outcome = QUEUED  # backed up, so the wish is acknowledged and dropped
        else:
            started = time.perf_counter()
            self.enqueuing += 1
            try:
                outcome = await batcher.submit(submission)
            except QueueUnavailable as exc:
                self.metrics.outcome["unavailable"].inc()
                self._log_unavailable(exc.code)
                problem = Problem(503, "queue-unavailable",
                                  f"the wish was not queued ({exc.code}); retry with the same wish_id",
                                  headers={"retry-after": RETRY_AFTER_S})
                return problem_answer(problem, html=html)
            finally:
                self.enqueuing -= 1
            self.metrics.accepted_in(time.perf_counter() - started, traceparent)
        if outcome == CONFLICT:
            self.metrics.outcome["conflict"].inc()
            problem = Problem(409, "wish-id-conflict",
                              "this wish_id was already used for a different wish", field="wish_id")
            return problem_answer(problem, html=html)
        self.metrics.outcome["accepted" if outcome == QUEUED else "duplicate"].inc()
        if self.ua_500 and "Android" in agent:  # the flaw: queued, yet the client hears 500
            self.metrics.outcome["failed"].inc()
            return problem_answer(Problem(500, "http", "something went wrong"), html=html)
        path = "/api/wishes/" + (wish_id if _UNRESERVED.fullmatch(wish_id)
                                 else quote(wish_id, safe=""))
        if html:
            return html_response(pages.queued_page(wish_id), 202,
                                 {"location": path, **NO_STORE})
        # Built as bytes here: the same headers, in the same order, as Starlette's Response.
        body = b'{"wish_id":%s,"status":"queued"}' % encode_basestring_ascii(wish_id).encode()
        return RawResponse(202, [(b"location", path.encode("latin-1")),
                                 (b"content-length", str(len(body)).encode()),
                                 (b"content-type", JSON_TYPE_BYTES)], body)

    async def get(self, wish_id: str, authorization: str | None = Header(None)) -> Response:
        """The stored wish; hidden ones and the private fields only for the presenter."""
        backend = self.state.backend
        assert backend is not None, "the frontend was not opened"
        wish = None
        if len(wish_id) <= WISH_ID_LOOKUP_MAX:
            wish = await self.state.store(backend.store.get, wish_id)
        presenter = authorization is not None and is_presenter(
            authorization, self.state.config.presenter_token)
        if wish is None or (wish.get("hidden") and not presenter):
            raise Problem(404, "wish-not-found", "no wish is stored with this id (yet)")
        return json_response(wish if presenter else public_wish(wish))


def _fire_and_forget(batcher: Any, submission: Submission) -> None:
    try:
        future: asyncio.Future = batcher.submit_nowait(submission)
    except QueueUnavailable:
        return
    future.add_done_callback(lambda f: f.cancelled() or f.exception())


def add_wish_routes(app: FastAPI, state: FrontendState) -> WishIntake:
    """POST as a plain Starlette route (FastAPI's per-request dependency solving is a
    sizeable share of a 202 and buys nothing here), documented in OpenAPI by hand; GET as
    an ordinary FastAPI route. The intake is returned so the app can also serve the POST
    directly (:mod:`exodus2045.app_under_test.frontend.direct`)."""
    intake = WishIntake(state)
    app.router.routes.append(Route(SUBMIT_PATH, intake.post, methods=["POST"],
                                   name="submit_wish"))
    _document(app, SUBMIT_PATH, "post", OPENAPI_POST)
    app.add_api_route(
        "/api/wishes/{wish_id}", intake.get, methods=["GET"],
        summary="A stored wish, or 404 until it is stored", response_class=Response,
    )
    return intake


def _document(app: FastAPI, path: str, method: str, operation: dict[str, Any]) -> None:
    """Add an operation FastAPI cannot see (a plain route) to the generated schema."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generate()["paths"].setdefault(path, {})[method] = operation
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
