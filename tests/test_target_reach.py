"""A target that is not there is "could not run": exit 2, one line naming URL and cause.

Refused connections, a server that does not speak HTTP, a TLS handshake against a plain
HTTP port and a URL that is not http(s) all end the same way, before the swarm starts, with
no traceback and no verdict.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from exodus2045.scenarios.evidence.reach import TargetUnreachable, probe


@pytest.fixture
def not_http() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that answers every connection with a line of not-HTTP."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(65536)  # the request, then an answer that is not HTTP
                except OSError:
                    continue
                conn.sendall(b"SSH-2.0-OpenSSH_9.6 hello\r\n")
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    srv.close()


@pytest.fixture
def plain_http() -> Iterator[str]:
    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_probe_names_each_cause(not_http, plain_http):
    refused = f"http://127.0.0.1:{_free_port()}"
    cases = {refused: "cannot connect", not_http: "not HTTP",
             f"https://{plain_http}": "TLS handshake failed", "ftp://127.0.0.1/": "not an http(s)"}
    for url, cause in cases.items():
        with pytest.raises(TargetUnreachable) as info:
            probe(url, timeout_s=5)
        assert url.rstrip("/") in str(info.value) or url in str(info.value)
        assert cause in str(info.value), str(info.value)
    assert probe(f"http://{plain_http}") == 404  # any HTTP answer means the target is there


@pytest.mark.parametrize("which", ["refused", "not-http"])
def test_run_against_a_missing_target_exits_2_with_one_line(which, not_http, tmp_path):
    url = f"http://127.0.0.1:{_free_port()}" if which == "refused" else not_http
    result = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke", "--target", url,
         "--runs-dir", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and url in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not list(tmp_path.iterdir())  # no run folder for a run that never started
