"""A pipeline Exodus did not write: the proof that adapters audit a team's own system.

Deliberately unlike the bundled one: plain ``http.server`` (no ASGI), its own field names
(``author``, ``planet`` = ``MARS``|``EUROPA``, ``body``, an idempotency ``ref``), ids it
assigns itself (``n-000123``), answers 201, a background worker thread between intake and
store, the tally at ``/v1/stats`` under ``per_planet``, a cursor-paginated listing, and a
``/board`` page that shows messages. A flaky gateway answers every 25th accepted post 503
*after* queueing it, so clients retry and the ``ref`` dedupe is what keeps it sound.

A small admin API shows its queue (``/admin/queues``: ready, working, dead) and its dead
letters (``/admin/dead``, keyed by its own note id), with two defects of the worker's that
only it shows: ``silent-dlq`` (1 in 100 dead-lettered without a reason: dlq-explained) and
``stuck`` (1 in 100 taken and never finished: drained).

Seeded defects (off by default), one per check the audit must fail:
``drop`` (the worker loses 1 in 100 under load: exactly-once), ``retry-dup`` (no ``ref``
dedupe, so a retried post is stored twice: exactly-once), ``raw-body`` (the board renders
the message ``body`` raw: no-executable-markup), ``miscount`` (EUROPA counted one too many every 20th
time: tally), ``truncate`` (every 10th message loses its last character: content).

Options a team's pipeline may have (off by default), each judged through an adapter key:
``store="escaped"`` (author and body HTML-escaped on write, shown as stored: ``content =
"escaped"``; with ``raw-body`` the board un-escapes the body again), ``store="normalized"``
(whitespace collapsed and trimmed on write: ``content = "normalized"``), ``message_max``
(its own limit instead of 2,000: ``[limits]``), and ``sigv4=(key id, secret, region)``:
every request must carry an AWS SigV4 signature by that key pair for ``execute-api``, which
the pipeline recomputes with botocore from the request it received (403 otherwise).
"""

from __future__ import annotations

import hmac
import html
import json
import queue
import re
import threading
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFECTS = ("drop", "retry-dup", "raw-body", "miscount", "truncate")
STORES = ("exact", "escaped", "normalized")
_SIGV4 = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                    r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})")
PLANETS = {"MARS", "EUROPA"}
PAGE = 100
DEFECTS += ("silent-dlq", "stuck")  # the worker's, seen through the admin API

ADAPTER = """\
# The foreign pipeline, as its team would describe it to Exodus.
[submit]
path = "/v1/notes"
accepted = [201]
id_field = "ref"
id_pointer = "/note/id"

[submit.fields]
evacuee = "author"
destination = "planet"
message = "body"

[submit.destinations]
mars = "MARS"
jupiter = "EUROPA"

[lookup]
path = "/v1/notes/{id}"

[lookup.fields]
evacuee = "/author"
destination = "/planet"
message = "/body"

[tally]
path = "/v1/stats"
pointer = "/per_planet"

[listing]
path = "/v1/notes"
items = "/items"
next = "/next"
cursor_param = "after"
id = "/ref"

[pages]
paths = ["/board"]

[evidence.queues]
path = "/admin/queues"

[evidence.queues.depth.inbox]
visible = "/inbox/ready"
in_flight = "/inbox/working"
dlq = "/inbox/dead"

[evidence.dead_letters]
path = "/admin/dead"
items = "/letters"
id = "/note"
reason = "/why"
"""


def _utf8(*texts: str) -> bool:
    try:
        for text in texts:
            text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return "".join(c for c in text if c in "\n\t" or unicodedata.category(c) != "Cc")


class Notes:
    """Intake, a queue, a worker thread, a store: the team's whole pipeline."""

    def __init__(self, defects: frozenset[str], store: str = "exact",
                 message_max: int = 2000) -> None:
        self.defects, self.store, self.message_max = defects, store, message_max
        self.lock = threading.Lock()
        self.inbox: queue.Queue = queue.Queue()
        self.rows: list[dict] = []  # stored, in order
        self.by_id: dict[str, dict] = {}
        self.refs: dict[str, str] = {}  # ref -> id
        self.per_planet = {"MARS": 0, "EUROPA": 0}
        self.posts = self.worked = self.europa = 0
        self.dead: list[dict] = []  # dead letters: {note, ref, why}
        self.stuck = 0  # notes the worker took and never finished (the stuck defect)
        self.worker = threading.Thread(target=self._work, daemon=True, name="notes-worker")
        self.worker.start()

    def accept(self, body: object) -> tuple[int, dict]:
        if not isinstance(body, dict):
            return 400, {"error": "body must be a JSON object"}
        if set(body) - {"author", "planet", "body", "ref"}:
            return 422, {"error": "unknown field"}
        author, planet, text, ref = (body.get(k) for k in ("author", "planet", "body", "ref"))
        if not isinstance(author, str) or not 1 <= len(_clean(author).strip()) <= 100:
            return 422, {"error": "author"}
        if planet not in PLANETS:
            return 422, {"error": "planet"}
        if not isinstance(text, str) or not _clean(text).strip() or len(_clean(text)) > self.message_max:
            return 422, {"error": "body"}
        if not _utf8(author, text):
            return 422, {"error": "not UTF-8 text"}
        with self.lock:
            if isinstance(ref, str) and ref in self.refs and "retry-dup" not in self.defects:
                return 201, {"note": {"id": self.refs[ref]}}
            self.posts += 1
            note_id = f"n-{self.posts:06d}"
            if isinstance(ref, str):
                self.refs.setdefault(ref, note_id)
            flaky = self.posts % 25 == 0
        self.inbox.put({"id": note_id, "ref": ref, "author": _clean(author).strip(),
                        "planet": planet, "body": _clean(text)})
        if flaky:  # the gateway times out after the note was queued: the client retries
            return 503, {"error": "gateway timeout"}
        return 201, {"note": {"id": note_id}}

    def _dead_or_stuck(self, note: dict) -> bool:
        """The worker's queue defects (called under the lock): True when the note is not
        stored because it was dead-lettered without a reason, or is stuck in its hands."""
        if "silent-dlq" in self.defects and self.worked % 100 == 30:
            self.dead.append({"note": note["id"], "ref": note["ref"], "why": ""})
            return True
        if "stuck" in self.defects and self.worked % 100 == 70:
            self.stuck += 1
            return True
        return False

    def queues(self) -> dict:
        """Ready, working (taken, not finished) and dead, as the admin API shows them."""
        with self.lock:
            ready = self.inbox.qsize()
            taken = max(0, self.posts - ready - self.worked)  # queued, between get and lock
            return {"inbox": {"ready": ready, "working": taken + self.stuck,
                              "dead": len(self.dead)}}

    def _work(self) -> None:
        while True:
            note = self.inbox.get()
            if note is None:
                return
            with self.lock:
                self.worked += 1
                if self._dead_or_stuck(note):
                    continue
                if "drop" in self.defects and self.worked % 100 == 50:
                    continue  # lost under load
                if "truncate" in self.defects and self.worked % 10 == 3:
                    note["body"] = note["body"][:-1]
                note.update(author=self._written(note["author"]), body=self._written(note["body"]))
                self.rows.append(note)
                self.by_id[note["id"]] = note
                self.per_planet[note["planet"]] += 1
                if note["planet"] == "EUROPA":
                    self.europa += 1
                    if "miscount" in self.defects and self.europa % 20 == 0:
                        self.per_planet["EUROPA"] += 1

    def _written(self, text: str) -> str:
        if self.store == "escaped":
            return html.escape(text)
        if self.store == "normalized":
            return " ".join(text.split())
        return text

    def stop(self) -> None:
        self.inbox.put(None)
        self.worker.join(timeout=5)

    def board(self) -> str:
        show, name = (str if "raw-body" in self.defects else html.escape), html.escape
        if self.store == "escaped":  # stored escaped: shown as stored (raw-body undoes it)
            show, name = (html.unescape if "raw-body" in self.defects else str), str
        with self.lock:
            latest = self.rows[-200:]
        items = "".join(f"<li><b>{name(n['author'])}</b> ({n['planet']}): "
                        f"{show(n['body'])}</li>" for n in latest)
        return f"<!doctype html><title>Board</title><ul>{items}</ul>"


def signed(command: str, path: str, headers: dict[str, str], body: bytes,
           key: tuple[str, str, str]) -> bool:
    """Whether the request carries a valid SigV4 signature by ``key`` (id, secret, region),
    recomputed with botocore from what was received (as API Gateway would)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key_id, secret, region = key
    match = _SIGV4.fullmatch(headers.get("authorization", ""))
    if not match or match[1] != key_id or match[3] != region or match[4] != "execute-api":
        return False
    names = match[5].split(";")
    if "host" not in names or "x-amz-date" not in names or any(n not in headers for n in names):
        return False
    request = AWSRequest(method=command, url=f"http://{headers['host']}{path}", data=body,
                         headers={n: headers[n] for n in names})
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(Credentials(key_id, secret), "execute-api", region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)),
                                request)
    return hmac.compare_digest(expected, match[6])


def _handler(notes: Notes, sigv4: tuple[str, str, str] | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def _send(self, status: int, data: object, kind: str = "application/json") -> None:
            body = (data if isinstance(data, str) else json.dumps(data)).encode()
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            if getattr(self, "csp", False):
                self.send_header("content-security-policy", "default-src 'none'")
            self.end_headers()
            self.wfile.write(body)

        def _refused(self, body: bytes = b"") -> bool:
            headers = {k.lower(): v for k, v in self.headers.items()}
            if sigv4 is None or signed(self.command, self.path, headers, body, sigv4):
                return False
            self._send(403, {"message": "Missing or invalid SigV4 signature"})
            return True

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self._refused(raw):
                return None
            if self.path != "/v1/notes":
                return self._send(404, {"error": "no such route"})
            try:
                body = json.loads(raw)
            except (ValueError, RecursionError):
                return self._send(400, {"error": "not JSON"})
            self._send(*notes.accept(body))

        def do_GET(self) -> None:  # noqa: N802
            if self._refused():
                return None
            url = urlsplit(self.path)
            if url.path == "/":
                return self._send(200, "<!doctype html><title>Notes</title>", "text/html")
            if url.path == "/board":
                self.csp = True
                return self._send(200, notes.board(), "text/html; charset=utf-8")
            if url.path == "/admin/queues":
                return self._send(200, notes.queues())
            if url.path == "/admin/dead":
                with notes.lock:
                    return self._send(200, {"letters": list(notes.dead)})
            if url.path == "/v1/stats":
                with notes.lock:
                    return self._send(200, {"per_planet": dict(notes.per_planet)})
            if url.path == "/v1/notes":
                after = int((parse_qs(url.query).get("after") or ["0"])[0])
                with notes.lock:
                    items = notes.rows[after:after + PAGE]
                    more = after + PAGE < len(notes.rows)
                return self._send(200, {"items": items, "next": after + PAGE if more else None})
            if url.path.startswith("/v1/notes/"):
                with notes.lock:
                    note = notes.by_id.get(url.path.rsplit("/", 1)[1])
                return self._send(200, note) if note else self._send(404, {"error": "none"})
            self._send(404, {"error": "no such route"})

    return Handler


@contextmanager
def foreign_pipeline(defects: frozenset[str] = frozenset(), *, store: str = "exact",
                     message_max: int = 2000,
                     sigv4: tuple[str, str, str] | None = None) -> Iterator[str]:
    """The pipeline on 127.0.0.1:0 (options in the module docstring); yields its URL."""
    unknown = set(defects) - set(DEFECTS)
    assert not unknown, f"unknown defects {unknown}"
    assert store in STORES, f"unknown store {store!r}"
    notes = Notes(frozenset(defects), store, message_max)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(notes, sigv4))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        notes.stop()
