"""The evacuee's own send path (locustfiles/sender.py) against what Locust's session did.

The swarm sends through geventhttpclient's public ``HTTPClient`` and reports to Locust's
public ``request`` event itself (cheaper than ``FastHttpSession.request``, see the module).
These tests pin what that must not change: the bytes on the wire, how answers (and broken
ones) become statuses, and what Locust's statistics count.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from exodus2045.locustfiles.ledger import read_ledger
from tests.swarm_fixtures import LOCUSTFILE, free_port


def _in_a_locust_process(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (Locust monkey-patches whatever imports it)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


#: A gevent server (in the Locust process) that records each request's bytes and answers
#: from a script: one canned reply per request, in order, then 202s.
_RECORDER = """
    from gevent import monkey; monkey.patch_all()
    import json, socket
    import gevent

    got, script = [], SCRIPT
    srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(16)
    port = srv.getsockname()[1]

    def handle(conn):
        buf = b""
        while True:
            data = conn.recv(65536)
            if not data:
                return conn.close()
            buf += data
            while b"\\r\\n\\r\\n" in buf:
                head, _, rest = buf.partition(b"\\r\\n\\r\\n")
                length = 0
                for line in head.split(b"\\r\\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(rest) < length:
                    break
                got.append((head + b"\\r\\n\\r\\n" + rest[:length]).decode("latin-1"))
                buf = rest[length:]
                reply = script.pop(0) if script else (
                    b"HTTP/1.1 202 Accepted\\r\\ncontent-length: 2\\r\\n\\r\\n{}")
                conn.sendall(reply)
                if b"content-length: 100" in reply or not reply.startswith(b"HTTP/"):
                    return conn.close()  # broke off / not HTTP: hang up

    def serve():
        while True:
            gevent.spawn(handle, srv.accept()[0])

    gevent.spawn(serve)
"""


def test_the_sender_puts_the_same_bytes_on_the_wire_as_locusts_session() -> None:
    """Same headers and body in: the same request out, with a path prefix and credentials."""
    out = _in_a_locust_process(_RECORDER.replace("SCRIPT", "[]") + """
    from locust.contrib.fasthttp import FastHttpSession
    from locust.event import Events
    from exodus2045.locustfiles.sender import WishSender

    headers = {"Content-Type": "application/json", "User-Agent": "agent/1.0",
               "Accept": "application/json", "X-Exodus-Run": "r-1",
               "Accept-Encoding": "gzip, deflate, br", "X-Exodus-Sig": "w:ab",
               "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}
    body = '{"wish_id":"w","evacuee":"Zoë"}'.encode()
    pairs = []
    for host in (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/stage",
                 f"http://ada:p%40ss@127.0.0.1:{port}"):
        session = FastHttpSession(host, Events().request, None)
        with session.request("POST", "/api/wishes", data=body, headers=dict(headers),
                             catch_response=True) as response:
            response.success()
        status, _, length = WishSender(host, "/api/wishes", connection_timeout=2.0,
                                       network_timeout=2.0).post(body, dict(headers))
        pairs.append([got[-2], got[-1], status, length])
    print(json.dumps(pairs))
    """)
    assert len(out) == 3
    for locust_sent, ours, status, length in out:
        assert (status, length) == (202, 2)
        assert ours == locust_sent
    assert out[1][1].startswith("POST /stage/api/wishes HTTP/1.1\r\n")
    assert "\r\nAuthorization: Basic YWRhOnBAc3M=\r\n" in out[2][1]  # ada:p@ss
    assert "ada" not in out[2][1].split("\r\n", 1)[0]


def test_answers_become_statuses_as_under_locust() -> None:
    """A status with its body, a Retry-After, a body cut short (the status decides), a reply
    that is not HTTP and a closed port (both status 0); the connection survives them all."""
    script = """[
        b"HTTP/1.1 503 Service Unavailable\\r\\nRetry-After: 1\\r\\n"
        b"content-length: 4\\r\\n\\r\\nbusy",
        b"HTTP/1.1 422 Unprocessable\\r\\ncontent-length: 100\\r\\n\\r\\n{\\"cut",
        b"NOT HTTP AT ALL\\r\\n\\r\\n",
    ]"""
    out = _in_a_locust_process(_RECORDER.replace("SCRIPT", script) + f"""
    from exodus2045.locustfiles.sender import WishSender

    sender = WishSender(f"http://127.0.0.1:{{port}}", "/api/wishes", connection_timeout=2.0,
                        network_timeout=2.0)
    results = []
    for _ in range(5):
        status, response, length = sender.post(b"{{}}", {{"Content-Type": "application/json"}})
        retry_after = None if response is None else response.get("retry-after")
        results.append([status, length, retry_after])
    dead = WishSender("http://127.0.0.1:{free_port()}", "/api/wishes", connection_timeout=2.0,
                      network_timeout=2.0)
    results.append(list(dead.post(b"{{}}", {{}})))
    print(json.dumps({{"results": results, "requests": len(got)}}))
    """)
    assert out["results"] == [
        [503, 4, "1"],
        [422, 0, None],  # cut short: the status decides, nothing counted as read
        [0, 0, None],  # not HTTP
        [202, 2, None],  # a fresh connection after each hang-up
        [202, 2, None],
        [0, None, 0],  # nobody listens
    ]
    assert out["requests"] == 5


class _AcceptAll(BaseHTTPRequestHandler):
    """Answers 202 to every POST, so every infiltrator's answer is unexpected."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


#: Loaded next to the locustfile: Locust's own statistics as the process quits (after the
#: last request), not a CSV Locust writes every few seconds.
_STATS_PLUGIN = """
import json
from locust import events


@events.quit.add_listener
def _dump(**_):
    stats = ENV[0].stats
    print("STATS " + json.dumps({
        "entries": {f"{e.method} {e.name}": [e.num_requests, e.num_failures]
                    for e in stats.entries.values()},
        "errors": sorted([e.name, str(e.error), e.occurrences] for e in stats.errors.values()),
    }), flush=True)


ENV = []


@events.init.add_listener
def _keep(environment, **_):
    ENV.append(environment)
"""


def test_locust_counts_every_attempt_once_and_fails_only_what_the_judge_fails(
    tmp_path: Path,
) -> None:
    """Locust's own statistics: one request per ledger line, named by kind; a failure exactly
    when the judge gives a reason, under that reason (the catch_response spelling)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AcceptAll)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    ledger = tmp_path / "ledger.jsonl"
    plugin = tmp_path / "stats_plugin.py"
    plugin.write_text(_STATS_PLUGIN)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", f"{LOCUSTFILE},{plugin}", "--headless",
             "--run-time", "30s", "--stop-timeout", "2", "-u", "8", "-r", "8",
             "--host", f"http://127.0.0.1:{server.server_address[1]}", "--evacuees", "200",
             "--arrival-rate", "1000", "--run-id", "r-stats", "--ledger", str(ledger),
             "--seed", "3", "--infiltrator-share", "0.3"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = Counter(line["expect"] for line in read_ledger(ledger))
    assert lines["accept"] > 0 and lines["reject"] > 0
    dumped = [ln for ln in done.stdout.splitlines() if ln.startswith("STATS ")]
    assert len(dumped) == 1, done.stdout[-2000:] + done.stderr[-2000:]
    stats = json.loads(dumped[0][len("STATS "):])
    assert stats["entries"] == {
        "POST /api/wishes": [lines["accept"], 0],
        "POST /api/wishes [bad input]": [lines["reject"], lines["reject"]],
    }
    assert stats["errors"] == [
        ["/api/wishes [bad input]", "bad input answered 202",
         lines["reject"]]
    ]
