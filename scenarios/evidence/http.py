"""The ``http`` source: what the target's public API shows -- lookups, the tally, the pages.

It is the only source a ``--target`` run has, and the one that fetches pages even when a
state dir is attached (pages are what the frontend serves, not what the store holds). With
the presenter token it lists a run's stored wishes through the frontend's admin listing
(``GET /api/admin/runs/{run_id}/wishes``, paginated), so exactly-once and no-phantoms are
judged over HTTP too; without it, it cannot. Queue depths (and so the backlog the drain
waits on) come from the ``exodus_queue_depth`` gauges of ``/metrics`` where the target has
them (or, through an adapter's translator, ``GET /api/admin/queues``); dead letters from the
presenter-only ``GET /api/admin/dead-letters``. It never counts stored rows, and says so.

With the run's key (``run_id`` + ``run_key``) every request is signed as the run's own read
(``X-Exodus-Sig: read:<hex>``, :func:`exodus2045.app_under_test.runkey.read_signature`): the
bundled frontend then exempts it from the public per-client read limit and answers it from
the store, not from the snapshot the room sees (docs/architecture.md "Scope of a run").

Every request is paced and bounded (:class:`HttpSourceConfig`): the audit reads after the
swarm, but a target shared with real users must not feel a second swarm in its lookups.
Lookups retry what a busy server answers (connection error, 429, 5xx), honouring
``Retry-After`` up to a cap, and report what they finally got (``status``), never a guess.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from exodus2045.app_under_test.runkey import RUN_HEADER, SIG_HEADER, read_signature
from exodus2045.scenarios.evidence.protocol import (
    EvidenceError,
    FetchedPage,
    Lookup,
    Question,
    SourceBase,
)

#: Pages that display wishes (or the tally) on the bundled frontend; ``/message`` answers
#: only under the ``html-api`` flaw and is skipped when it is a 404.
PAGE_PATHS = ("/wall?limit=200", "/", "/tally", "/api/wall?limit=200", "/api/tally", "/message")
_NO_LISTING = ("the target has no listing of a run's stored wishes (the bundled frontend "
               "lists them for the presenter token: set EXODUS_PRESENTER_TOKEN)")
_NO_QUEUES = "the target's HTTP API does not show its queues"
_NO_DEAD_LETTERS = ("the target's HTTP API does not show its dead letters (an adapter names "
                    "them in [evidence.dead_letters] or [evidence.aws])")
_DEPTH = re.compile(r"^exodus_queue_depth\{([^}]*)\}\s+([0-9.eE+-]+)\s*$", re.MULTILINE)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True)
class HttpSourceConfig:
    """How hard the audit may lean on the target."""

    concurrency: int = 8  # requests in flight at once
    rate_per_s: float = 500.0  # requests started per second, at most
    timeout_s: float = 10.0
    attempts: int = 3  # per lookup, for connection errors, 429 and 5xx
    retry_after_cap_s: float = 5.0
    page_paths: tuple[str, ...] = PAGE_PATHS
    wish_pages: int = 20  # /api/wishes/{id} pages fetched for the static oracle
    #: the presenter token (from the environment, never a file): opens the run listing
    presenter_token: str | None = field(default=None, repr=False)
    listing_path: str | None = "/api/admin/runs/{run_id}/wishes"  # None: the target has none
    #: with the presenter token: ``{"queues": {name: {visible, in_flight, dlq}}}`` (a
    #: translator's, from an adapter's ``[evidence.queues]``); preferred to ``metrics_path``
    queues_path: str | None = None
    #: with the presenter token: ``{"dead_letters": [{queue, message_id, body, reason}]}``
    dead_letters_path: str | None = "/api/admin/dead-letters"
    #: Prometheus text with ``exodus_queue_depth{queue,state}`` gauges (the bundled frontend's
    #: ``/metrics``): queue depths and the backlog over HTTP. None: the target shows none.
    metrics_path: str | None = "/metrics"
    #: the run's id and key: every read is signed as the run's own (never written anywhere)
    run_id: str | None = None
    run_key: bytes | None = field(default=None, repr=False)


class SignedReads(httpx.Auth):
    """Signs each request as a read of the run: method and path?query as sent, empty body."""

    def __init__(self, run_id: str, key: bytes) -> None:
        self.run_id = run_id
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        target = request.url.raw_path.decode("ascii")
        request.headers[RUN_HEADER] = self.run_id
        request.headers[SIG_HEADER] = read_signature(self._key, self.run_id, request.method,
                                                     target)
        yield request


class Pace:
    """Spaces request starts at least ``1 / rate`` apart, across threads."""

    def __init__(self, rate_per_s: float) -> None:
        self.interval = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            time.sleep(at - now)  # pacing, not synchronisation


class HttpSource(SourceBase):
    """Answers through ``url``'s public routes: ``/api/wishes/{id}``, ``/api/tally``, pages."""

    name: ClassVar[str] = "http"
    tally_may_trail: ClassVar[bool] = True  # a team's tally route, or our one-second view
    ANSWERS = frozenset({Question.WISH_LOOKUP, Question.TALLY, Question.PAGES})
    WHY_NOT = {
        Question.STORED_WISHES: _NO_LISTING,
        Question.AUDIENCE_WISHES: _NO_LISTING,
        Question.STORED_COUNTS: "the target shows its tally counters, not a count of stored rows",
        Question.QUEUE_DEPTHS: _NO_QUEUES,
        Question.BACKLOG: _NO_QUEUES,
        Question.DEAD_LETTERS: "the target's dead letters are read through a presenter-only "
                               "route (set EXODUS_PRESENTER_TOKEN)",
        Question.RESTARTS: "the target's HTTP API does not report restarts",
    }

    def __init__(self, url: str, config: HttpSourceConfig | None = None) -> None:
        self.url = url.rstrip("/")
        self.config = config or HttpSourceConfig()
        if self.config.presenter_token and self.config.listing_path:
            self.ANSWERS = self.ANSWERS | {Question.STORED_WISHES}
        if self.config.metrics_path:
            self.ANSWERS = self.ANSWERS | {Question.QUEUE_DEPTHS, Question.BACKLOG}
        self.ANSWERS = self.ANSWERS | _queue_answers(self.config)
        if not self.config.dead_letters_path:
            self.WHY_NOT = {**self.WHY_NOT, Question.DEAD_LETTERS: _NO_DEAD_LETTERS}
        self.errors = (httpx.HTTPError, ValueError)
        n = max(1, self.config.concurrency)
        signed = self.config.run_id and self.config.run_key
        self.client = httpx.Client(
            base_url=self.url, timeout=self.config.timeout_s,
            auth=SignedReads(self.config.run_id, self.config.run_key) if signed else None,
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))
        self._pace = Pace(self.config.rate_per_s)
        self._pool: ThreadPoolExecutor | None = None

    def describe(self) -> dict[str, Any]:
        listing = (f"{self.config.listing_path} with the presenter token"
                   if self.config.presenter_token else None)
        return {"name": self.name, "url": self.url, "listing": listing,
                "signed_reads": bool(self.config.run_id and self.config.run_key),
                "concurrency": self.config.concurrency, "rate_per_s": self.config.rate_per_s}

    def close(self) -> None:
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def get(self, path: str) -> httpx.Response:
        self._pace.wait()
        return self.client.get(path)

    # -- answers -----------------------------------------------------------------------
    def lookup(self, wish_ids: Sequence[str]) -> list[Lookup]:
        if not wish_ids:
            return []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max(1, self.config.concurrency),
                                            thread_name_prefix="evidence-http")
        lookups = list(self._pool.map(self._lookup_one, wish_ids))
        if all(x.status == 0 for x in lookups):  # silence is no answer, not "not stored"
            raise EvidenceError(f"{self.url}: none of {len(lookups)} lookups got an answer")
        return lookups

    def tally(self) -> dict[str, int]:
        r = self.get("/api/tally")
        r.raise_for_status()
        body = r.json()
        tally = body.get("tally") if isinstance(body, dict) else None
        if not isinstance(tally, dict) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in tally.values()):
            raise EvidenceError(f"{self.url}/api/tally: no {{'tally': {{destination: n}}}} object")
        return {str(k): v for k, v in tally.items()}

    def stored_wishes(self, run_id: str) -> Iterator[dict[str, Any]]:
        """Every row the target lists for ``run_id``, page by page (a read error raises, so a
        half listing is never taken for the whole store)."""
        path = (self.config.listing_path or "").format(run_id=quote(run_id, safe=""))
        headers = {"authorization": f"Bearer {self.config.presenter_token}"}
        offset: int | None = 0
        while offset is not None:
            self._pace.wait()
            r = self.client.get(path, params={"offset": offset}, headers=headers)
            if r.status_code in (401, 403, 404):
                raise EvidenceError(f"{self.url}{path}: {r.status_code} (no listing for this "
                                    "run with this presenter token)")
            r.raise_for_status()
            body = r.json()
            rows = body.get("wishes") if isinstance(body, dict) else None
            if not isinstance(rows, list):
                raise EvidenceError(f"{self.url}{path}: no {{'wishes': [...]}} object")
            yield from (row for row in rows if isinstance(row, dict))
            nxt = body.get("next")
            offset = nxt if isinstance(nxt, int) and nxt > offset else None

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """Per queue ``{visible, in_flight, dlq}`` from the target's Prometheus gauges."""
        if self.config.queues_path and self.config.presenter_token:
            return self._admin_queues()
        path = self.config.metrics_path or ""
        r = self.get(path)
        r.raise_for_status()
        depths: dict[str, dict[str, int]] = {}
        for match in _DEPTH.finditer(r.text):
            labels = dict(_LABEL.findall(match.group(1)))
            if "queue" in labels and "state" in labels:
                depths.setdefault(labels["queue"], {})[labels["state"]] = int(
                    float(match.group(2)))
        if not depths:
            raise EvidenceError(f"{self.url}{path}: no exodus_queue_depth gauges")
        return depths

    def backlog(self) -> int:
        return sum(d.get("visible", 0) + d.get("in_flight", 0)
                   for d in self.queue_depths().values())

    # -- queues and dead letters through presenter-only admin routes --------------------
    def _admin_get(self, path: str, key: str) -> Any:
        self._pace.wait()
        r = self.client.get(path, headers={
            "authorization": f"Bearer {self.config.presenter_token}"})
        if r.status_code in (401, 403, 404):
            raise EvidenceError(f"{self.url}{path}: {r.status_code} (not readable with this "
                                "presenter token)")
        r.raise_for_status()
        body = r.json()
        value = body.get(key) if isinstance(body, dict) else None
        if value is None:
            raise EvidenceError(f"{self.url}{path}: no {key!r} in the answer")
        return value

    def _admin_queues(self) -> dict[str, dict[str, int]]:
        queues = self._admin_get(self.config.queues_path or "", "queues")
        if not isinstance(queues, dict) or not queues or not all(
                isinstance(d, dict) and all(isinstance(n, int) for n in d.values())
                for d in queues.values()):
            raise EvidenceError(f"{self.url}{self.config.queues_path}: no "
                                "{'queues': {name: {visible, in_flight, dlq}}} object")
        return {str(name): dict(d) for name, d in queues.items()}

    def dead_letters(self) -> list[dict[str, Any]]:
        """Every dead letter the target shows the presenter: queue, body, reason."""
        letters = self._admin_get(self.config.dead_letters_path or "", "dead_letters")
        if not isinstance(letters, list) or not all(isinstance(d, dict) for d in letters):
            raise EvidenceError(f"{self.url}{self.config.dead_letters_path}: no "
                                "{'dead_letters': [...]} array")
        return letters

    def pages(self, sample_ids: Sequence[str]) -> list[FetchedPage]:
        paths = list(self.config.page_paths)
        paths += [f"/api/wishes/{quote(i, safe='')}" for i in sample_ids[:self.config.wish_pages]]
        fetched = []
        for path in paths:
            try:
                r = self.get(path)
            except httpx.HTTPError:
                continue  # a page that would not load shows nothing; the others still count
            if r.status_code == 404 and path == "/message":
                continue
            fetched.append(FetchedPage(path, r.status_code, r.headers.get("content-type", ""),
                                       {k.lower(): v for k, v in r.headers.items()}, r.content))
        return fetched

    def _lookup_one(self, wish_id: str) -> Lookup:
        status = 0
        for attempt in range(max(1, self.config.attempts)):
            wait = 0.1 * 2 ** attempt
            try:
                r = self.get(f"/api/wishes/{quote(wish_id, safe='')}")
            except httpx.HTTPError:
                status = 0
            else:
                status = r.status_code
                if status == 200:
                    return Lookup(wish_id, True, _object(r), status)
                if status == 404:
                    return Lookup(wish_id, False, None, status)
                if status != 429 and status < 500:
                    break  # an answer that will not change on a retry
                wait = _retry_after(r, wait)
            if attempt + 1 < self.config.attempts:
                time.sleep(min(wait, self.config.retry_after_cap_s))
        return Lookup(wish_id, False, None, status)


def _queue_answers(config: HttpSourceConfig) -> frozenset[Question]:
    """What the presenter-only queue and dead-letter routes let this source answer."""
    if not config.presenter_token:
        return frozenset()
    answers = {Question.DEAD_LETTERS} if config.dead_letters_path else set()
    if config.queues_path:
        answers |= {Question.QUEUE_DEPTHS, Question.BACKLOG}
    return frozenset(answers)


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", default)))
    except ValueError:
        return default


def _object(response: httpx.Response) -> dict[str, Any] | None:
    """The stored wish a 200 carries; None when the body is not a JSON object (still found)."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
