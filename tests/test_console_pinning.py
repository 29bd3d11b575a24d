"""The presenter's console cannot be repointed, by a form post from another site or the LAN.

Locust's ``POST /swarm`` copies any form field onto ``parsed_options`` (``host`` onto
``environment.host``). A console that read its frontend URL, state dir or token back from
there would send ``Authorization: Bearer <token>`` to a host of the attacker's choosing on its
next call. The console pins them at start, strips them from ``/swarm`` forms, and refuses
cross-site calls to every state-changing Locust route. The browser test posts from a page on
``localhost`` to a console on ``127.0.0.1``: another *site*, not merely another origin.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.app_under_test.supervisor import Supervisor
from exodus2045.reports.browser_launch import open_browser
from tests.browser_fixtures import require_browser
from tests.stack_fixtures import running_stack
from tests.swarm_fixtures import stop_process, wait_for
from tests.test_webui_stage import start_locust

TOKEN = "pin-" + uuid.uuid4().hex


class Recorder:
    """An HTTP server that records every request: the attacker's host, or its page."""

    def __init__(self, page: str = "") -> None:
        self.seen: list[tuple[str, str, str | None]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                recorder.seen.append((self.command, self.path, self.headers.get("Authorization")))
                body = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _answer  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Recorder:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Console:
    url: str
    stack: Supervisor


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    with running_stack(tmp_path / "state", chaos=True, presenter_token=TOKEN) as stack:
        proc, url = start_locust(
            tmp_path, "--host", stack.url, "--state-dir", str(stack.state.root),
            "--presenter-token", TOKEN, "--arrival-rate", "50", "--seed", "7",
            "--ledger", str(tmp_path / "ledger.jsonl"))
        try:
            yield Console(url, stack)
        finally:
            stop_process(proc)


def _evil_form(evil: str) -> dict[str, str]:
    return {"user_count": "2", "spawn_rate": "2", "host": evil, "state_dir": "",
            "run_dir": "/", "presenter_token": "attacker", "evacuees": "6",
            "infiltrator_share": "0"}


def test_a_swarm_form_cannot_repoint_the_console_and_its_run_is_signed(
    console: Console,
) -> None:
    with Recorder() as evil:
        evil_url = f"http://127.0.0.1:{evil.port}"
        started = httpx.post(console.url + "/swarm", data=_evil_form(evil_url), timeout=10)
        assert started.status_code == 200 and started.json()["success"] is True
        snap = wait_for(lambda: (httpx.get(console.url + "/exodus/pipeline.json", timeout=10)
                                 .json().get("swarm") or {}).get("complete") and
                        httpx.get(console.url + "/exodus/pipeline.json", timeout=10).json(),
                        60, "the form's run to finish")
        assert snap["source"] == f"state dir {console.stack.state.root}", "state dir pinned"
        cleared = httpx.post(console.url + "/exodus/chaos/clear", data={},
                             headers={"Origin": console.url}, timeout=15,
                             follow_redirects=True)
        assert cleared.status_code == 200 and "Last action: " in cleared.text
        assert "done:" in cleared.text.split("Last action: ")[1][:200], cleared.text
        assert evil.seen == [], "nothing, least of all the token, went to the form's host"
    run_id = snap["swarm"]["run_id"]
    backend = open_local(StateDir(console.stack.state.root))
    try:
        wait_for(lambda: sum(1 for _ in backend.store.iterate(run_id)) == 6, 30,
                 "the console's run stored under its own run id")
        assert {w["source"] for w in backend.store.iterate(run_id)} == {"swarm"}
    finally:
        backend.close()


@pytest.mark.parametrize("path", ["/swarm", "/stop", "/stats/reset"])
def test_locusts_own_write_routes_refuse_cross_site_calls(console: Console, path: str) -> None:
    other_site = {"Origin": "http://localhost:1", "Sec-Fetch-Site": "cross-site"}
    refused = httpx.post(console.url + path, data=_evil_form("http://127.0.0.1:9"),
                         headers=other_site, timeout=10)
    assert refused.status_code == 403 and "refused" in refused.text
    origin_only = httpx.post(console.url + path, data=_evil_form("http://127.0.0.1:9"),
                             headers={"Origin": "http://localhost:1"}, timeout=10)
    assert origin_only.status_code == 403
    assert httpx.get(console.url + "/exodus/pipeline.json", timeout=10).json()["swarm"] is None


def test_a_page_on_another_site_cannot_start_or_repoint_the_console(console: Console) -> None:
    require_browser()
    with Recorder() as evil:
        fields = "".join(f'<input name="{k}" value="{v}">' for k, v in
                         _evil_form(f"http://127.0.0.1:{evil.port}").items())
        page = (f'<!doctype html><form id=f method=post action="{console.url}/swarm">{fields}'
                "</form><script>document.getElementById('f').submit()</script>")
        with Recorder(page) as attacker, open_browser() as browser:
            tab = browser.new_page()
            tab.goto(f"http://localhost:{attacker.port}/")
            tab.wait_for_url(f"{console.url}/swarm", timeout=15000)
            assert "cross-site request refused" in tab.content()
        snap = httpx.get(console.url + "/exodus/pipeline.json", timeout=10).json()
        assert snap["swarm"] is None, "no run started"
        assert snap["source"] == f"state dir {console.stack.state.root}"
        assert evil.seen == []
