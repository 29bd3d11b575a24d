"""Spans leave the run: into the run folder, and over OTLP to a collector the test runs.

The receiver is a plain HTTP server on 127.0.0.1 that decodes OTLP/HTTP protobuf
(``POST /v1/traces``), the way a team's own collector would receive it. A short real run
(``exodus run smoke --evacuees 60``) must deliver one trace per acknowledged wish, holding
the five hops as spans chained parent to child across both queues.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the `tracing` extra is not installed")

from tests.conftest import wait_for  # noqa: E402
from tests.otlp_receiver import otlp_receiver  # noqa: E402

CHAIN = ("accept", "queue wait 1", "parse", "queue wait 2", "store")


def _chains(spans: list[dict]) -> dict[str, list[str]]:
    """Per trace, the hop names walked from accept down the parent links."""
    by_trace: dict[str, list[dict]] = defaultdict(list)
    for span in spans:
        by_trace[span["trace_id"]].append(span)
    chains = {}
    for trace_id, members in by_trace.items():
        children = defaultdict(list)
        for span in members:
            children[span["parent"]].append(span)
        roots = [s for s in members if s["name"] == "accept"]
        walk = []
        node = roots[0] if roots else None
        while node is not None:
            walk.append(node["name"])
            nxt = children.get(node["span_id"], [])
            node = nxt[0] if nxt else None
        chains[trace_id] = walk
    return chains


@pytest.mark.slow
def test_one_trace_per_acknowledged_wish_reaches_an_otlp_collector(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with otlp_receiver() as (endpoint, received):
        done = subprocess.run(
            [sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke", "--evacuees", "60",
             "--infiltrator-share", "0.1", "--out", str(out), "--otlp-endpoint", endpoint,
             "--trace-sample", "1"],
            capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        ledger = [json.loads(x) for x in (out / "ledger.jsonl").read_text().splitlines()]
        acked = {row["trace_id"] for row in ledger if row["status"] == 202}
        assert len(acked) >= 50
        wait_for(lambda: acked <= {s["trace_id"] for s in received if s["name"] == "store"},
                 30, "every acknowledged wish's store span at the receiver")
        chains = _chains(received)
    for trace_id in acked:
        assert chains.get(trace_id) == list(CHAIN), (trace_id, chains.get(trace_id))
    # the same spans landed in the run folder, and the report says tracing was on
    local = [json.loads(x) for x in (out / "spans.jsonl").read_text().splitlines()]
    assert acked <= {s["trace_id"] for s in local if s["name"] == "store"}
    assert json.loads((out / "run.json").read_text())["tracing"]["spans"] == len(local)
    assert "tracing was off" not in (out / "summary.md").read_text()


SPAN_ONE = """
import sys
from pathlib import Path
from exodus2045.app_under_test import tracing, tracing_sdk
print(tracing_sdk.configure("test", Path(sys.argv[1])))
parent = tracing.swarm_traceparent(tracing.trace_id_for(sys.argv[2]))
child = tracing.hop_span("parse", parent, 1.0, 2.0, {"exodus.run_id": "r"})
tracing_sdk.flush_spans()
print(child)
"""


@pytest.mark.parametrize(("sample", "wish_id", "kept"), [
    ("1", "0b7b5c0e-3c53-4c0b-9d3e-2f2a5c1d9e01", 1),
    ("0", "0b7b5c0e-3c53-4c0b-9d3e-2f2a5c1d9e01", 0),
    ("0.1", "0b7b5c0e-3c53-4c0b-9d3e-2f2a5c1d9e01", 1),  # top 32 bits 0x0b7b5c0e < 0.1
    ("0.1", "fb7b5c0e-3c53-4c0b-9d3e-2f2a5c1d9e01", 0),  # (a UUID's low half never is)
])
def test_head_sampling_keeps_whole_traces_or_none(
    tmp_path: Path, sample: str, wish_id: str, kept: int
) -> None:
    env = {"PATH": "/usr/bin:/bin", "EXODUS_TRACE_SAMPLE": sample}
    done = subprocess.run([sys.executable, "-c", SPAN_ONE, str(tmp_path), wish_id], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    status, child = done.stdout.split()[:2], done.stdout.split()[-1]
    assert status[0] == "on:", done.stdout
    assert child.split("-")[1] == wish_id.replace("-", "")  # the trace goes on either way
    path = tmp_path / "spans.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    assert len(lines) == kept
    if kept:
        span = json.loads(lines[0])
        assert span["name"] == "parse" and span["parent_span_id"] == wish_id.replace("-", "")[16:]
        assert (span["start"], span["end"]) == (1.0, 2.0)


def test_a_bad_otlp_endpoint_is_refused_naming_the_flag(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke", "--out",
         str(tmp_path / "run"), "--otlp-endpoint", "collector:4318"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2 and "--otlp-endpoint" in done.stderr, done.stderr[-500:]
    assert "Traceback" not in done.stderr
