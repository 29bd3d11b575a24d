"""One wish, one trace: traceparent and hop timestamps through every hop, without the SDK.

The frontend runs for real (uvicorn on 127.0.0.1:0); parser and pod worker get the exact
SQS events the poller builds from the real SQLite queues, so the message attributes travel
the same way they do in a running stack.
"""

from __future__ import annotations

import json

from exodus2045.app_under_test import parser, pod_worker, runkey, tracing
from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.sqs_event import sqs_event
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.locustfiles.ledger import prefix_of
from tests.frontend_fixtures import config_for, running_frontend, wish

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = f"00-{TRACE}-00f067aa0ba902b7-01"


def test_traceparent_parsing_is_strict() -> None:
    assert tracing.parse(PARENT) == (TRACE, "00f067aa0ba902b7", 1)
    for bad in (None, "", "01-" + PARENT[3:], PARENT.upper(), f"00-{'0' * 32}-00f067aa0ba902b7-01",
                f"00-{TRACE}-{'0' * 16}-01", PARENT + "x"):
        assert tracing.parse(bad) is None, bad


def test_the_swarm_trace_id_is_the_wish_uuid_and_the_ledger_records_it() -> None:
    wish_id = "0b7b5c0e-3c53-4c0b-9d3e-2f2a5c1d9e01"
    trace_id = tracing.trace_id_for(wish_id)
    assert trace_id == "0b7b5c0e3c534c0b9d3e2f2a5c1d9e01"
    assert tracing.parse(tracing.swarm_traceparent(trace_id))[0] == trace_id
    odd = tracing.trace_id_for("<script>")  # an infiltrator's id still gets a valid trace
    assert len(odd) == 32 and tracing.parse(tracing.swarm_traceparent(odd)) is not None
    line = json.loads(prefix_of(wish_id, "r", "evacuee", "mars", None, "accept")[:-1] + "}")
    assert line["trace_id"] == trace_id


def _flow(backend: LocalBackend) -> dict:
    """Carry what the wishes queue holds through parser and pod worker; the stored wish."""
    parse = parser.make_handler(backend.parsed, backend.wishes)
    store = pod_worker.make_handler(backend.store, backend.parsed)
    [queued] = backend.wishes.receive(10)
    assert parse(sqs_event([queued], "wishes"), None) == {"batchItemFailures": []}
    [parsed] = backend.parsed.receive(10)
    event = sqs_event([parsed], "parsed")
    assert "traceparent" in event["Records"][0]["messageAttributes"]  # Lambda's shape
    assert store(event, None) == {"batchItemFailures": []}
    return queued, parsed


def test_a_swarm_trace_is_continued_through_both_queues_and_kept_with_the_wish(
    state: StateDir, backend: LocalBackend
) -> None:
    body = wish(1)
    key = runkey.new_key()  # only a verified swarm request's trace is continued
    runkey.write_key(state.root, "r-trace", key)
    raw = json.dumps(body).encode()
    with running_frontend(config_for(state.root), backend) as fe:
        answer = fe.client.post("/api/wishes", content=raw, headers={
            "content-type": "application/json", "X-Exodus-Run": "r-trace",
            "X-Exodus-Sig": runkey.signature(key, "r-trace", body["wish_id"], raw),
            "traceparent": PARENT})
        assert answer.status_code == 202
    queued, parsed = _flow(backend)
    assert tracing.trace_id_of(queued.attributes["traceparent"]) == TRACE
    assert tracing.trace_id_of(parsed.attributes["traceparent"]) == TRACE
    stored = backend.store.get(body["wish_id"])
    assert stored["trace_id"] == TRACE
    times = [stored[k] for k in tracing.HOP_TIMES]
    assert all(isinstance(t, float) for t in times), stored
    # each hop starts where the one before ended (SentTimestamp is whole milliseconds)
    assert all(b >= a - 0.001 for a, b in zip(times, times[1:], strict=False)), times


def test_an_audience_wish_starts_its_own_trace(state: StateDir, backend: LocalBackend) -> None:
    body = wish(2)
    with running_frontend(config_for(state.root), backend) as fe:
        assert fe.client.post("/api/wishes", json=body,
                              headers={"traceparent": PARENT}).status_code == 202
    _flow(backend)
    stored = backend.store.get(body["wish_id"])
    assert stored["trace_id"] and stored["trace_id"] != TRACE  # not the client's to choose


def test_a_state_dir_from_before_tracing_gets_the_new_columns(state: StateDir) -> None:
    import sqlite3

    from exodus2045.app_under_test.backends.local.store import LocalWishStore

    path = state.root / "old-store.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE wishes (key TEXT PRIMARY KEY, wish_id TEXT NOT NULL, run_id TEXT,"
        " source TEXT NOT NULL DEFAULT 'audience', evacuee TEXT NOT NULL,"
        " destination TEXT NOT NULL, message TEXT NOT NULL, markup INTEGER NOT NULL DEFAULT 0,"
        " accepted_at REAL, parsed_at REAL, stored_at REAL NOT NULL,"
        " hidden INTEGER NOT NULL DEFAULT 0);"
    )
    conn.close()
    store = LocalWishStore(path)
    try:
        assert store.put_wishes([{**wish(3), "trace_id": TRACE, "enqueued_at": 1.5}]) == [True]
        got = store.latest(1)[0]
        assert got["trace_id"] == TRACE and got["enqueued_at"] == 1.5
    finally:
        store.close()
