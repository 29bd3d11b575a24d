"""A connection error must not change what the swarm sends afterwards (issue: 415 poisoning).

Locust 2.47 + geventhttpclient 2.6, on a connection error, build a stand-in request from the
headers the caller passed and write ``content-type: application/octet-stream`` into that very
dict. A swarm that reused one headers dict across requests therefore sent octet-stream for
the rest of the run after its first connection error, and the frontend rightly answered 415
to valid wishes. These tests pin both halves: the dependency still does it (so the day it
stops, a test says so), and our send path never hands it an object that outlives a request.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.locustfiles.ledger import read_ledger
from tests.frontend_fixtures import config_for, running_frontend
from tests.gate import Gate
from tests.swarm_fixtures import free_port, run_locust

RESET_FIRST = 3  # connections the gate resets: the first attempts of three of the users


def test_a_connection_error_mid_run_does_not_turn_valid_wishes_into_415s(
    tmp_path: Path, state: StateDir, backend: LocalBackend
) -> None:
    """Real frontend behind a gate that resets the first connections; every valid wish lands."""
    ledger = tmp_path / "run" / "ledger.jsonl"
    with running_frontend(config_for(state.root), backend) as fe:
        port = int(fe.url.rsplit(":", 1)[1])
        with Gate(("127.0.0.1", port), refuse=lambda n: n < RESET_FIRST) as gate:
            done = run_locust(
                ["-u", "4", "-r", "4", "--host", gate.url, "--evacuees", "120",
                 "--arrival-rate", "200", "--run-id", "r-poison", "--ledger", str(ledger),
                 "--seed", "11", "--infiltrator-share", "0"],
                cwd=tmp_path,
            )  # fmt: skip
            reset = gate.reset
    assert done.returncode == 0, done.stderr[-3000:]
    lines = list(read_ledger(ledger))
    assert reset == RESET_FIRST and sum(1 for ln in lines if ln["status"] == 0) >= 1, (
        "the gate should have caused connection errors")
    false_rejects = [ln for ln in lines if ln["expect"] == "accept" and 400 <= ln["status"] < 500]
    assert not false_rejects, (
        f"{len(false_rejects)} valid wishes refused after a connection error: "
        f"{Counter(ln['status'] for ln in false_rejects)}")
    acknowledged = {ln["wish_id"] for ln in lines if ln["status"] == 202}
    assert len(acknowledged) == len({ln["wish_id"] for ln in lines}) == 120


def _in_a_locust_process(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (Locust monkey-patches whatever imports it)."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_pinned_locust_still_writes_into_the_headers_dict_it_is_given_on_a_connection_error():
    """The hazard itself, against the installed Locust and geventhttpclient.

    Probed through the private method where it lives (the swarm no longer calls it). If this
    fails, Locust changed that path or stopped mutating caller-owned headers: good news, but
    keep the fresh-dict-per-request rule (it costs next to nothing) and update this test.
    """
    out = _in_a_locust_process(f"""
        import json
        import locust
        from locust.contrib.fasthttp import FastHttpSession
        from locust.event import Events

        session = FastHttpSession("http://127.0.0.1:{free_port()}", Events().request, None,
                                  connection_timeout=2.0, network_timeout=2.0)
        send = getattr(session, "_send_request_safe_mode", None)
        shared = {{"Content-Type": "application/json", "X-Exodus-Run": "r"}}
        status = None
        if send is not None:
            status = send("POST", "http://127.0.0.1:{free_port()}/api/wishes", payload=b"{{}}",
                          headers=shared).status_code
        print(json.dumps({{"locust": locust.__version__, "probed": send is not None,
                           "status": status, "shared": shared}}))
    """)
    assert out["probed"], f"Locust {out['locust']} has no _send_request_safe_mode any more"
    assert out["status"] == 0
    assert out["shared"].get("content-type") == "application/octet-stream", (
        f"Locust {out['locust']} no longer writes into the caller's headers on a connection "
        f"error (got {out['shared']}); locustfiles/headers.py's rule is now belt and braces")


def test_the_evacuee_send_path_hands_every_request_its_own_headers():
    """Our path: the template stays untouched and the client never sees it or a reused dict."""
    out = _in_a_locust_process(f"""
        import json
        from geventhttpclient import HTTPClient
        from exodus2045.locustfiles.evacuee import PATH, post_wish
        from exodus2045.locustfiles.headers import request_headers
        from exodus2045.locustfiles.sender import WishSender

        seen = []
        original = HTTPClient.request

        def spy(self, method, request_uri, body=b"", headers=None):
            seen.append(headers)
            return original(self, method, request_uri, body=body, headers=headers)

        HTTPClient.request = spy
        sender = WishSender("http://127.0.0.1:{free_port()}", PATH, connection_timeout=2.0,
                            network_timeout=2.0)
        template = request_headers("application/json", "agent/1.0", "r-1")
        before = dict(template)
        statuses = [post_wish(sender, b"{{}}", template)[0] for _ in range(3)]
        print(json.dumps({{
            "statuses": statuses,
            "template_unchanged": dict(template) == before,
            "handed_template": any(h is template for h in seen),
            "distinct": len({{id(h) for h in seen}}) == len(seen),
            "handed": len(seen),
        }}))
    """)
    assert out["statuses"] == [0, 0, 0]
    assert out["handed"] >= 3 and out["distinct"] and not out["handed_template"]
    assert out["template_unchanged"]
