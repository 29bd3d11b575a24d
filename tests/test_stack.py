"""The whole pipeline as processes: end to end over HTTP, and kill -9 while wishes stream in."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.statedir import StateDir
from tests.conftest import wait_for
from tests.stack_fixtures import running_stack

pytestmark = pytest.mark.slow


def post_wish(client: httpx.Client, n: int, wish_id: str | None = None) -> tuple[str, int]:
    wish_id = wish_id or str(uuid.uuid4())
    body = {"wish_id": wish_id, "evacuee": f"Evacuee {n}",
            "destination": "mars" if n % 3 else "jupiter", "message": f"Wish {n} <i>literal</i>"}
    try:
        return wish_id, client.post("/api/wishes", json=body).status_code
    except httpx.HTTPError:
        return wish_id, 0


def test_end_to_end_over_http_and_idempotent_retry(tmp_path):
    with running_stack(tmp_path / "state") as stack, httpx.Client(base_url=stack.url) as client:
        wish_id, status = post_wish(client, 1)
        assert status == 202
        assert post_wish(client, 1, wish_id)[1] == 202  # a retry is not a second wish
        stored = wait_for(lambda: client.get(f"/api/wishes/{wish_id}").status_code == 200,
                          what="wish stored")
        assert stored
        wish = client.get(f"/api/wishes/{wish_id}").json()
        assert wish["message"] == "Wish 1 <i>literal</i>" and wish["markup"] is True
        assert wish["stored_at"] >= wish["accepted_at"]
        assert client.get("/api/tally").json() == {"tally": {"mars": 1, "jupiter": 0}}
        wall = client.get("/wall")
        assert "&lt;i&gt;literal&lt;/i&gt;" in wall.text and "<i>literal</i>" not in wall.text


@pytest.mark.parametrize("victim", ["pod-worker", "parser"])
def test_kill_9_while_wishes_stream_in_loses_nothing(tmp_path, victim):
    """GIVEN wishes streaming in, WHEN the victim is SIGKILLed again and again,
    THEN every acknowledged wish is stored exactly once, the tally is exact, and the
    supervisor restarted it."""
    state = StateDir(tmp_path / "state")
    with running_stack(state.root, parsers=2, pod_workers=2) as stack:
        acked: list[str] = []
        stop = threading.Event()

        def stream() -> None:
            with httpx.Client(base_url=stack.url, timeout=10) as client:
                n = 0
                while not stop.is_set() and n < 3000:
                    wish_id, status = post_wish(client, n)
                    if status == 202:
                        acked.append(wish_id)
                    n += 1

        senders = [threading.Thread(target=stream) for _ in range(4)]
        for s in senders:
            s.start()
        kills = 0
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            for c in stack.components:
                if c.kind == victim and c.pid:
                    os.kill(c.pid, signal.SIGKILL)
                    kills += 1
            time.sleep(0.7)  # spacing between kills: the fault schedule, not synchronisation
        stop.set()
        for s in senders:
            s.join()
        backend = open_local(state)
        try:
            wait_for(lambda: backend.store.count() >= len(set(acked))
                     and backend.wishes.depth().visible + backend.wishes.depth().in_flight == 0
                     and backend.parsed.depth().visible + backend.parsed.depth().in_flight == 0,
                     timeout=120, what="pipeline drained")
            stored = [w["wish_id"] for w in backend.store.iterate()]
            assert len(acked) > 100
            assert sorted(stored) == sorted(set(acked))  # nothing lost, nothing doubled
            wishes = list(backend.store.iterate())
            by_dest = {d: sum(1 for w in wishes if w["destination"] == d)
                       for d in ("mars", "jupiter")}
            assert backend.store.tally() == by_dest
            assert backend.wishes.depth().dead_letters == backend.parsed.depth().dead_letters == 0
        finally:
            backend.close()
        restarts = sum(c.restarts for c in stack.components if c.kind == victim)
        assert kills >= 4 and restarts >= 4


def test_exodus_up_and_status_as_real_processes(tmp_path):
    state = tmp_path / "state"
    up = subprocess.Popen([sys.executable, "-m", "exodus2045.scenarios.cli", "up", "--port", "0",
                           "--state-dir", str(state), "--parsers", "1", "--pod-workers", "1"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: (state / "stack.json").exists()
                 and all(c["pid"] for c in json.loads((state / "stack.json").read_text())
                         ["components"]), what="stack.json")
        line = up.stdout.readline()
        assert "Exodus pipeline up at http://127.0.0.1:" in line
        second = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "up", "--port", "0",
                                 "--state-dir", str(state)], capture_output=True, text=True,
                                timeout=30)
        assert second.returncode == 2 and "in use by another `exodus up`" in second.stderr
        status = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "status", "--state-dir",
                                 str(state), "--json"], capture_output=True, text=True, timeout=30)
        assert status.returncode == 0, status.stderr
        data = json.loads(status.stdout)
        assert [c["name"] for c in data["components"]] == ["frontend:0", "parser:0",
                                                            "pod-worker:0"]
        assert all(c["pid"] and c["restarts"] == 0 for c in data["components"])
        assert data["queues"]["wishes"] == {"visible": 0, "in_flight": 0, "dlq": 0}
        assert data["stored"] == 0 and data["tally"] == {"jupiter": 0, "mars": 0}
        pids = [c["pid"] for c in data["components"]]
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=30)
    assert up.returncode == 0
    for pid in pids:  # nothing left behind
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_status_without_a_stack_is_one_line_exit_2(tmp_path):
    result = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "status", "--state-dir",
                             str(tmp_path / "nothing")], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert "no stack here" in result.stderr and "Traceback" not in result.stderr
