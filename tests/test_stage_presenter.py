"""The presenter's routes on a real stack: refuse without the token, act with it.

Chaos from the frontend is the CLI's chaos (same plan validation, same switch), recorded
with source ``presenter``; a timed fault ends by itself, ``DELETE`` ends them all; hiding a
wish takes it off the projector and the wall while it stays stored.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.supervisor import Supervisor
from exodus2045.chaos import entry
from exodus2045.chaos.board import FaultBoard
from exodus2045.chaos.processes import process_state
from exodus2045.chaos.timeline import read_timeline
from tests.conftest import wait_for
from tests.frontend_fixtures import config_for, problem_of, running_frontend
from tests.stack_fixtures import running_stack

TOKEN = "presenter-" + uuid.uuid4().hex
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    root = tmp_path_factory.mktemp("presenter") / "state"
    with running_stack(root, chaos=True, presenter_token=TOKEN) as supervisor:
        yield supervisor


_ADDRESSES = itertools.count(2)


def fresh_client(stack: Supervisor) -> httpx.Client:
    """A client from an address of its own (127.0.0.N): wrong tokens are throttled per
    address (5 a minute), and these tests send many on purpose."""
    transport = httpx.HTTPTransport(local_address=f"127.0.0.{next(_ADDRESSES)}")
    return httpx.Client(base_url=stack.url, timeout=10.0, transport=transport)


@pytest.fixture
def client(stack: Supervisor) -> Iterator[httpx.Client]:
    with fresh_client(stack) as c:
        yield c


def presenter_lines(stack: Supervisor) -> list[dict]:
    return [line for line in read_timeline(stack.state.root / "timeline.jsonl")
            if line["source"] == "presenter"]


def test_the_routes_refuse_without_the_token(client: httpx.Client, stack: Supervisor) -> None:
    calls = [("POST", "/api/admin/chaos"), ("DELETE", "/api/admin/chaos"),
             ("GET", "/api/admin/chaos"), ("POST", f"/api/admin/wishes/{uuid.uuid4()}/hide")]
    body = {"fault": "throttle", "target": "pod-worker/store.put"}
    before = len(presenter_lines(stack))
    for method, path in calls:
        client = fresh_client(stack)  # three refusals each: under the per-address throttle
        missing = client.request(method, path, json=body)
        assert missing.status_code == 401, (method, path)
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = client.request(method, path, json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403, (method, path)
        basic = client.request(method, path, json=body, headers={"Authorization": f"Basic {TOKEN}"})
        client.close()
        assert basic.status_code == 401
    assert FaultBoard(stack.state).entries() == [] and len(presenter_lines(stack)) == before


def test_no_configured_token_means_nobody(tmp_path: Path) -> None:
    with running_frontend(config_for(tmp_path / "state"), hooks=entry.frontend_hooks()) as fe:
        chaos = fe.client.post("/api/admin/chaos", headers=AUTH, json={"fault": "throttle"})
        hide = fe.client.post(f"/api/admin/wishes/{uuid.uuid4()}/hide", headers=AUTH)
    for answer in (chaos, hide):
        assert answer.status_code == 403 and "no presenter token" in problem_of(answer)["detail"]


def test_the_plain_pipeline_has_no_chaos_routes(tmp_path: Path) -> None:
    """Chaos's routes are chaos's: a frontend started without its hooks does not have them."""
    with running_frontend(config_for(tmp_path / "state", presenter_token=TOKEN)) as fe:
        chaos = fe.client.get("/api/admin/chaos", headers=AUTH)
        hide = fe.client.post(f"/api/admin/wishes/{uuid.uuid4()}/hide", headers=AUTH)
    assert chaos.status_code == 404
    assert hide.status_code == 404 and problem_of(hide)["type"].endswith("wish-not-found")


@pytest.mark.parametrize(("body", "field"), [
    ({"fault": "meteor", "target": "parser"}, "fault"),
    ({"fault": "throttle", "target": "parser"}, "target"),
    ({"fault": "throttle", "target": "moon/store.put"}, "target"),
    ({"fault": "pause", "target": "frontend", "duration": "2s"}, "target"),
    ({"fault": "kill", "target": "frontend:0"}, "target"),
    ({"fault": "pause", "target": "parser"}, "duration"),
    ({"fault": "pause", "target": "parser", "duration": "soon"}, "duration"),
    ({"fault": "pause", "target": "parser", "duration": 1}, "duration"),  # a bare number
    ({"fault": "pause", "target": "parser", "duration": "1"}, "duration"),
    ({"fault": "throttle", "target": "parser/queue.send", "probability": 2}, "probability"),
    ({"fault": "latency", "target": "parser/queue.send", "params": {"speed": 3}}, "params"),
    ({"fault": "latency", "target": "parser/queue.send", "colour": "red"}, "colour"),
    (["throttle"], "body"),
])
def test_an_invalid_fault_is_a_422_naming_the_field(client: httpx.Client, stack: Supervisor,
                                                   body: object, field: str) -> None:
    answer = client.post("/api/admin/chaos", headers=AUTH, json=body)
    assert answer.status_code == 422, answer.text
    problem = problem_of(answer)
    assert problem["field"] == field and problem["type"].endswith("invalid-fault")
    assert FaultBoard(stack.state).entries() == [], "nothing switched on"


def test_a_port_fault_goes_on_and_delete_clears_it(client: httpx.Client, stack: Supervisor) -> None:
    on = client.post("/api/admin/chaos", headers=AUTH, json={
        "fault": "latency", "target": "pod-worker/store.put", "duration": "60s",
        "probability": 0.5, "params": {"ms": 20}})
    assert on.status_code == 200, on.text
    assert on.json()["status"] == "on" and on.json()["until"] > 0
    [entry] = FaultBoard(stack.state).entries()
    assert (entry.fault, entry.target, entry.source, entry.probability) == \
        ("latency", "pod-worker/store.put", "presenter", 0.5)
    listed = client.get("/api/admin/chaos", headers=AUTH).json()
    assert [e["id"] for e in listed["on"]] == [entry.id] and "seed" not in listed["on"][0]
    assert "latency" in listed["faults"]
    cleared = client.delete("/api/admin/chaos", headers=AUTH)
    assert cleared.status_code == 200 and cleared.json()["cleared"] == 1
    assert FaultBoard(stack.state).entries() == []
    lines = [(x["event"], x["fault"], x["params"].get("ms")) for x in presenter_lines(stack)]
    assert lines[-2:] == [("on", "latency", 20.0), ("off", "latency", 20.0)]


def test_a_timed_pause_ends_by_itself(client: httpx.Client, stack: Supervisor) -> None:
    pid = next(c.pid for c in stack.components if c.name == "parser:0")
    answer = client.post("/api/admin/chaos", headers=AUTH,
                         json={"fault": "pause", "target": "parser:0", "duration": "3s"})
    assert answer.status_code == 200 and answer.json()["status"] == "on", answer.text
    # 3 s, not 1: on a loaded machine a 1 s pause could end before this line reads the state
    assert process_state(pid) == "T", "SIGSTOP sent before the answer"
    wait_for(lambda: presenter_lines(stack)[-1]["event"] == "off", 10, "the pause to end")
    assert process_state(pid) not in ("T", None), "resumed, still the same process"
    on, off = presenter_lines(stack)[-2:]
    assert (on["event"], on["fault"], on["target"]) == ("on", "pause", "parser:0")
    assert on["params"]["components"] == ["parser:0"] and off["params"]["resumed"] == 1
    assert 2.9 <= off["t"] - on["t"] < 8


def test_hiding_takes_a_wish_off_the_projector_and_the_wall(client: httpx.Client,
                                                           stack: Supervisor) -> None:
    wish_id = str(uuid.uuid4())
    sent = client.post("/api/wishes", json={"wish_id": wish_id, "evacuee": "Heckler",
                                            "destination": "mars", "message": "rude words"})
    assert sent.status_code == 202
    wait_for(lambda: client.get(f"/api/wishes/{wish_id}").status_code == 200, 15, "stored")
    assert "rude words" in client.get("/tally").text
    hidden = client.post(f"/api/admin/wishes/{wish_id}/hide", headers=AUTH)
    assert hidden.status_code == 200 and hidden.json() == {"wish_id": wish_id, "hidden": True}
    for path in ("/tally", "/wall", "/api/tally/snapshot"):
        assert "rude words" not in client.get(path).text, path
    backend = open_local(stack.state)
    try:
        assert backend.store.get(wish_id)["hidden"] is True, "still stored, and audited"
    finally:
        backend.close()
    missing = client.post(f"/api/admin/wishes/{uuid.uuid4()}/hide", headers=AUTH)
    assert missing.status_code == 404
