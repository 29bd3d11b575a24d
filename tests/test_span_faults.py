"""A span a fault touched says so: ``exodus.fault`` on the spans of the faulted component.

A real pod worker run by chaos's entry point (as ``exodus up`` runs it), a fault on the
board before it starts, wishes through it, and its ``spans.jsonl`` read back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exodus2045.app_under_test import settings as s
from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.app_under_test.tracing import TRACEPARENT, swarm_traceparent, trace_id_for
from exodus2045.chaos.board import ActiveFault, FaultBoard
from tests.conftest import frontend_body, wait_for

pytest.importorskip("opentelemetry.sdk", reason="the `tracing` extra is not installed")


def _spans_of_a_pod_worker(state: StateDir, fault: str, target: str) -> list[dict]:
    FaultBoard(state).add(ActiveFault.new(fault, target, 1.0, {"ms": 30}, 1, "test"))
    env = {**os.environ, s.ENV_STATE_DIR: str(state.root), s.ENV_FLAWS: "",
           s.ENV_WAIT_TIME: "0.2", s.ENV_TRACING: "on", s.ENV_TRACE_SAMPLE: "1"}
    backend = open_local(state)
    proc = subprocess.Popen([sys.executable, "-m", "exodus2045.chaos.entry", "pod-worker"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        bodies = [frontend_body(n, parsed_at=time.time()) for n in range(3)]
        backend.parsed.send_batch([
            OutgoingMessage(json.dumps(b), {TRACEPARENT: swarm_traceparent(
                trace_id_for(b["wish_id"]))}) for b in bodies])
        wait_for(lambda: backend.store.count() == len(bodies), timeout=30,
                 what="the pod worker to store every wish")
    finally:
        proc.terminate()  # SIGTERM: the worker flushes its spans on the way out
        proc.wait(timeout=15)
        backend.close()
    assert proc.returncode == 0
    path = Path(state.root) / "spans.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_latency_fault_on_store_put_is_on_the_pod_workers_spans(state: StateDir) -> None:
    spans = _spans_of_a_pod_worker(state, "latency", "pod-worker/store.put")
    stores = [sp for sp in spans if sp["name"] == "store"]
    assert len(stores) == 3
    for span in stores:
        assert span["attributes"]["exodus.fault"] == "latency pod-worker/store.put", span
        assert span["end"] - span["start"] >= 0.03  # the latency is inside the store hop


def test_a_fault_elsewhere_leaves_the_pod_workers_spans_unmarked(state: StateDir) -> None:
    spans = _spans_of_a_pod_worker(state, "latency", "parser/queue.send")
    assert [sp["name"] for sp in spans].count("store") == 3
    assert all("exodus.fault" not in sp["attributes"] for sp in spans)
