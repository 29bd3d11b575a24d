"""Exodus's API in front of a team's: the swarm and the audit speak one language.

The swarm posts Exodus wishes and the evidence reads ``/api/wishes/{id}``, ``/api/tally``
and the run listing; against a team's own pipeline the :class:`Translator` (a small threaded
HTTP server on 127.0.0.1) turns each of those into the team's request as the adapter file
says, and the answer back. It is transparent on purpose: an answer in the adapter's
``accepted`` list becomes the ledger's 202, every other status (a 4xx, a 5xx, a 429 with
``Retry-After``) passes through as it came, and a retry is forwarded as a retry -- so what
the swarm records is what the team's API did. Ids the team assigns are kept beside ours in
``target-ids.jsonl`` in the run folder, and lookups use theirs. Any other GET (the pages
that show messages) is proxied byte for byte, so the XSS oracle judges the team's own HTML.

The translator adds one loopback hop to every request; the latency figures include it.
"""

from __future__ import annotations

import hmac
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx

from exodus2045.scenarios.adapter import evidence_routes
from exodus2045.scenarios.adapter.spec import WISH_FIELDS, Adapter, pointer_get

LISTING = "/api/admin/runs/"
PASS_HEADERS = ("retry-after", "content-type")


class Translator:
    """Serve Exodus's routes on ``url``, answered by the team's pipeline at ``target``."""

    def __init__(self, adapter: Adapter, target: str, ids_file: Path | None,
                 token: str, timeout_s: float = 10.0) -> None:
        self.adapter, self.target, self.token = adapter, target.rstrip("/"), token
        self.headers = adapter.resolved_headers()
        self.client = httpx.Client(base_url=self.target, timeout=timeout_s,
                                   limits=httpx.Limits(max_connections=64),
                                   auth=adapter.resolved_auth())  # [auth] sigv4 signs each
        self.ids: dict[str, str] = {}  # our wish id -> theirs
        self.sent: set[str] = set()  # every wish id of ours forwarded: this run's rows
        self._theirs: dict[str, str] = {}  # every id the team gave -> ours (a retry's too)
        self.run_id: str | None = None
        self._ids_file = ids_file.open("a", encoding="utf-8") if ids_file else None
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        name="exodus-translator")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Translator:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.client.close()
        if self._ids_file:
            self._ids_file.close()

    # -- submit ------------------------------------------------------------------------
    def submit(self, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        a = self.adapter
        if headers.get("x-exodus-run"):
            self.run_id = headers["x-exodus-run"]
        try:
            wish = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested past parsing: as sent
            wish = None
        send_headers = {**self.headers, "user-agent": headers.get("user-agent", "exodus")}
        ours = wish.get("wish_id") if isinstance(wish, dict) else None
        if ours is not None and not _is_uuid(ours):
            # Exodus's idempotency key is a UUID: one that is not cannot be mapped onto the
            # team's id field, so the translator refuses it as Exodus's own API does (the
            # team's rules for its own ids are not what that infiltrator tests).
            problem = {"type": "about:blank", "title": "invalid wish_id", "status": 422,
                       "field": "wish_id", "detail": "wish_id must be a UUID"}
            return 422, {"content-type": "application/problem+json"}, json.dumps(problem).encode()
        if ours is not None:
            with self._lock:
                self.sent.add(ours)
        if isinstance(wish, dict):
            body: dict[str, Any] = {a.fields.get(k, k): v for k, v in wish.items()
                                    if k != "wish_id"}  # a field we do not map goes as sent
            dest = wish.get("destination")
            if isinstance(dest, str) and a.fields["destination"] in body:
                body[a.fields["destination"]] = a.their_destination(dest.strip().lower()) \
                    if dest.strip().lower() in a.destinations else dest
            if a.id_field and ours is not None:
                body[a.id_field] = ours
            if a.format == "form":
                content = urlencode({k: str(v) for k, v in body.items()}).encode()
                send_headers["content-type"] = "application/x-www-form-urlencoded"
            else:
                content = json.dumps(body).encode()  # ASCII escapes keep a lone surrogate as sent
                send_headers["content-type"] = "application/json"
        else:  # not a JSON object: theirs to refuse, exactly as sent
            content = raw
            send_headers["content-type"] = headers.get("content-type", "application/json")
        r = self.client.request(a.method, a.submit_path, content=content, headers=send_headers)
        passed = {k: v for k, v in r.headers.items() if k.lower() in PASS_HEADERS}
        if r.status_code not in a.accepted:
            return r.status_code, passed, r.content
        if ours is not None and a.id_pointer:
            try:
                theirs = pointer_get(r.json(), a.id_pointer)
            except ValueError:
                theirs = None
            if theirs is not None:
                self._remember(str(ours), str(theirs))
        return 202, {"content-type": "application/json"}, json.dumps({"wish_id": ours}).encode()

    def _remember(self, ours: str, theirs: str) -> None:
        with self._lock:
            if self.ids.get(ours) == theirs:
                return
            self.ids[ours] = theirs
            self._theirs[theirs] = ours
            if self._ids_file:
                self._ids_file.write(json.dumps({"wish_id": ours, "target_id": theirs}) + "\n")
                self._ids_file.flush()

    def ours(self, key: str) -> str:
        """Our wish id for a key the team shows: theirs mapped back, else it is ours."""
        with self._lock:
            return self._theirs.get(key, key)

    def claim(self, key: str, theirs: bool) -> str | None:
        """Our wish id when a row keyed ``key`` is this run's (its id one we sent), else None:
        a shared table's other rows are not the run's to judge."""
        with self._lock:
            if theirs:
                return self._theirs.get(key)
            return key if key in self.sent else None

    # -- reads -------------------------------------------------------------------------
    def lookup(self, ours: str) -> tuple[int, bytes]:
        a = self.adapter
        theirs = self.ids.get(ours) if a.id_pointer else ours
        if theirs is None:
            return 404, b'{"title":"no id from the target for this wish"}'
        r = self.client.get(a.lookup_path.replace("{id}", quote(theirs, safe="")),
                            headers=self.headers)
        if r.status_code != 200:
            return r.status_code, r.content
        row = self._ours(r.json(), {f: a.lookup_fields[f] for f in WISH_FIELDS})
        return 200, json.dumps({"wish_id": ours, "target_id": theirs, **row}).encode()

    def _ours(self, document: Any, pointers: dict[str, str]) -> dict[str, Any]:
        row = {f: pointer_get(document, p) for f, p in pointers.items()}
        if "destination" in row:
            row["destination"] = self.adapter.our_destination(row["destination"])
        return row

    def tally(self) -> tuple[int, bytes]:
        r = self.client.get(self.adapter.tally_path, headers=self.headers)
        if r.status_code != 200:
            return r.status_code, r.content
        counts = pointer_get(r.json(), self.adapter.tally_pointer)
        if not isinstance(counts, dict):
            return 502, b'{"title":"the tally pointer does not name an object"}'
        tally = {str(self.adapter.our_destination(k)): v for k, v in counts.items()}
        return 200, json.dumps({"tally": tally}).encode()

    def listing(self, run_id: str) -> tuple[int, bytes]:
        """Every row of the team's listing this run can claim (its id is one we sent)."""
        spec = self.adapter.listing
        if spec is None:
            return 404, b'{"title":"the adapter names no listing"}'
        by_theirs = {v: k for k, v in self.ids.items()}
        pointers = {f: self.adapter.lookup_fields[f] for f in WISH_FIELDS}
        rows, cursor, pages = [], None, 0
        while pages < 10_000:
            pages += 1
            params = {spec.cursor_param: cursor} if cursor is not None else {}
            r = self.client.get(spec.path, params=params, headers=self.headers)
            if r.status_code != 200:
                return 502, json.dumps({"title": f"listing answered {r.status_code}"}).encode()
            page = r.json()
            for item in pointer_get(page, spec.items) or ():
                key = pointer_get(item, spec.id)
                if key is None:
                    continue
                # this run's rows only: an id the team gave one of our wishes, or our own id
                # on a wish this run sent (rejected ones too: a stored reject is a phantom).
                # Another client's rows -- an earlier `adapter check`, other traffic on a
                # shared system -- are not this run's to judge.
                ours = by_theirs.get(str(key))
                if ours is None:
                    with self._lock:
                        ours = str(key) if str(key) in self.sent else None
                if ours is None:
                    continue
                rows.append({"wish_id": ours, "run_id": run_id, **self._ours(item, pointers)})
            cursor = pointer_get(page, spec.next) if spec.next else None
            if cursor is None:
                break
        return 200, json.dumps({"run_id": run_id, "offset": 0, "wishes": rows,
                                "next": None}).encode()

    def authorised(self, headers: dict[str, str]) -> bool:
        given = headers.get("authorization", "").partition(" ")[2].strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def proxy(self, path: str) -> tuple[int, dict[str, str], bytes]:
        r = self.client.get(path, headers=self.headers)
        keep = {k: v for k, v in r.headers.items()
                if k.lower() in ("content-type", "content-security-policy",
                                 "x-content-type-options")}
        return r.status_code, keep, r.content


def _handler(t: Translator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def _headers(self) -> dict[str, str]:
            return {k.lower(): v for k, v in self.headers.items()}

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            headers = headers or {"content-type": "application/json"}
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            if urlsplit(self.path).path != "/api/wishes":
                return self._answer(404, b"{}")
            try:
                status, headers, body = t.submit(raw, self._headers())
            except httpx.HTTPError as exc:
                return self._answer(502, json.dumps({"title": str(exc)}).encode())
            self._answer(status, body, headers or None)

        def do_GET(self) -> None:  # noqa: N802
            parts = urlsplit(self.path)
            path = parts.path
            try:
                if path.startswith("/api/wishes/"):
                    return self._answer(*t.lookup(unquote(path[len("/api/wishes/"):])))
                if path == "/api/tally":
                    return self._answer(*t.tally())
                if path in (evidence_routes.QUEUES, evidence_routes.DEAD_LETTERS):
                    if not t.authorised(self._headers()):
                        return self._answer(401, b"{}")
                    read = evidence_routes.queues if path == evidence_routes.QUEUES \
                        else evidence_routes.dead_letters
                    return self._answer(*read(t))
                if path.startswith(LISTING) and path.endswith("/wishes"):
                    if not t.authorised(self._headers()):
                        return self._answer(401, b"{}")
                    offset = int((parse_qs(parts.query).get("offset") or ["0"])[0])
                    if offset:  # the whole listing comes in one page
                        return self._answer(200, b'{"wishes":[],"next":null}')
                    return self._answer(*t.listing(unquote(path[len(LISTING):-len("/wishes")])))
                status, headers, body = t.proxy(self.path)
            except (httpx.HTTPError, ValueError) as exc:
                return self._answer(502, json.dumps({"title": str(exc)}).encode())
            self._answer(status, body, headers)

    return Handler


def _is_uuid(value: Any) -> bool:
    """Whether ``value`` is a UUID in its text form, as Exodus's wish ids are."""
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
