"""A fixed, hand-crafted run folder for the renderer tests and their golden files.

Why not the shared run-folder factory: golden files must change only when a *renderer*
changes. This folder is pure arithmetic on the evacuee number (no clock, no randomness,
no Faker), so the same bytes come out on every machine, and a change in how another
module fabricates runs cannot churn tests/golden/.

The run: 40 wishes over 20 s (32 evacuees, 8 infiltrators), the parser killed from 8 s to
12 s (service time spikes, some 503s retried), a one-shot kill of ``pod-worker:0`` at
16 s, one acknowledged wish missing from the store. Evidence quotes hostile text (markup,
a pipe, a newline, a NUL) so the goldens pin escaping too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STARTED_AT = 1764324900.0
WISHES = 40
MISSING = 7  # the acknowledged wish the store lost
HOSTILE = "<script>alert(1)</script> | `tick` [x](javascript:alert(1))\nnext\x00line"

#: Pinned FMEA rows so the goldens do not depend on how reports.fmea ranks risk.
GOLDEN_FAILURE_MODES: list[dict[str, Any]] = [
    {"mode": "markup executes on the wall", "check": "no-executable-markup", "severity": 9,
     "occurrence": 2, "detection": 2, "rpn": 36, "evidence_count": 1,
     "cause": "a page renders stored text as HTML: " + HOSTILE},
    {"mode": "acknowledged wish lost", "check": "exactly-once", "severity": 10,
     "occurrence": 3, "detection": 2, "rpn": 60, "evidence_count": 1,
     "cause": "the pod worker dropped a wish after the parser kill"},
]


def wish_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def _ledger() -> list[dict[str, Any]]:
    rows = []
    for n in range(WISHES):
        intended = STARTED_AT + n * 0.5
        infiltrator = n % 5 == 4
        in_outage = 8.0 <= n * 0.5 < 12.0
        base = {
            "wish_id": wish_id(n), "run_id": "r-golden", "n": n,
            "kind": "infiltrator" if infiltrator else "evacuee",
            "destination": "mars" if n % 5 in (0, 1, 3) else "jupiter",
            "payload": f"xss-{n}" if infiltrator else None,
            "expect": "reject" if infiltrator and n % 10 == 9 else "accept",
        }
        latency = 20.0 + (n * 7) % 30 + (180.0 if in_outage else 0.0)
        attempt, sent = 1, intended + 0.002
        if in_outage and not infiltrator:
            rows.append({**base, "attempt": 1, "status": 503, "intended_at": intended,
                         "sent_at": sent, "latency_ms": latency,
                         "response_ms": latency + 2.0})
            attempt, sent = 2, sent + latency / 1000 + 0.25
        status = 400 if base["expect"] == "reject" else 202
        rows.append({**base, "attempt": attempt, "status": status, "intended_at": intended,
                     "sent_at": sent, "latency_ms": latency,
                     "response_ms": round((sent - intended) * 1000 + latency, 3)})
    return rows


def _snapshot(ledger: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stored = []
    for row in ledger:
        if row["status"] != 202 or row["n"] == MISSING:
            continue
        n = row["n"]
        accepted = round(row["sent_at"] + row["latency_ms"] / 1000, 3)
        outage = 2.5 if 8.0 <= n * 0.5 < 12.0 else 0.0  # waits in the wishes queue
        base = 0.4 + (n % 5) * 0.1
        delay = base + outage
        parsed = round(accepted + base / 2 + outage, 3)
        message = HOSTILE if row["kind"] == "infiltrator" else f"Plant a tree for me, {n}."
        stored.append({
            "wish_id": row["wish_id"], "run_id": "r-golden", "source": "swarm",
            "evacuee": f"Evacuee {n}", "destination": row["destination"],
            "message": message, "markup": row["kind"] == "infiltrator",
            "accepted_at": accepted, "parsed_at": parsed,
            "stored_at": round(accepted + delay, 3),
            "trace_id": f"{n:032x}", "enqueued_at": round(accepted + 0.003, 3),
            "parse_started_at": round(parsed - 0.002, 3),
            "store_started_at": round(accepted + delay - 0.03, 3),
        })
    return stored


def _metrics() -> list[dict[str, Any]]:
    samples = []
    for t in range(23):
        outage = 8 <= t < 12
        wishes = {"visible": 6 * (t - 7) if outage else t % 3, "in_flight": 0 if outage else 2,
                  "dlq": 1 if t >= 10 else 0}
        parsed = {"visible": t % 2, "in_flight": 1 if t < 20 else 0, "dlq": 0}
        samples.append({"t": float(t), "at": STARTED_AT + t,
                        "queues": {"wishes": wishes, "parsed": parsed},
                        "stored": min(2 * t, 35), "tally": {"mars": t, "jupiter": t // 2},
                        "restarts": 1 if t >= 16 else 0})
    return samples


TIMELINE = [
    {"t": 8.0, "at": "2025-11-28T10:15:08Z", "event": "on", "fault": "kill",
     "target": "parser", "params": {"duration": "4s"}, "source": "scenario"},
    {"t": 12.0, "at": "2025-11-28T10:15:12Z", "event": "off", "fault": "kill",
     "target": "parser", "params": {}, "source": "scenario"},
    {"t": 15.0, "at": "2025-11-28T10:15:15Z", "event": "note", "fault": None,
     "target": None, "params": {"text": HOSTILE}, "source": "presenter"},
    {"t": 16.0, "at": "2025-11-28T10:15:16Z", "event": "on", "fault": "kill",
     "target": "pod-worker:0", "params": {}, "source": "cli"},
]

CHECKS: list[dict[str, Any]] = [
    {"id": "exactly-once", "status": "failed", "summary": "1 of 36 acknowledged wishes missing",
     "evidence": {"missing": [wish_id(MISSING)], "missing_total": 1, "duplicated": [],
                  "duplicated_total": 0}},
    {"id": "no-phantoms", "status": "passed", "summary": "nothing stored that was not acknowledged",
     "evidence": {}},
    {"id": "tally", "status": "passed", "summary": "tally equals stored counts equals ledger",
     "evidence": {"tally": {"mars": 20, "jupiter": 10}}},
    {"id": "no-false-rejects", "status": "passed",
     "summary": "all 36 valid wishes got no 4xx; 36 acknowledged",
     "evidence": {"valid": 36, "acknowledged": 36, "refused_by_status": {},
                  "unacknowledged_by_status": {}, "false_rejects": [], "false_rejects_total": 0,
                  "unacknowledged": [], "unacknowledged_total": 0}},
    {"id": "no-executable-markup", "status": "failed",
     "summary": "wall.html executes a stored payload | see evidence",
     "evidence": {"findings": [{"page": "wall.html", "snippet": HOSTILE}], "findings_total": 1}},
    {"id": "browser-oracle", "status": "skipped", "summary": "no browser: [audit] browser = false",
     "evidence": {}},
    {"id": "recovery:kill:parser@8s", "status": "passed",
     "summary": "acknowledgements resumed 1.2 s after the fault ended", "evidence": {"seconds": 1.2}},
]


def verdict(
    checks: list[dict[str, Any]] | None = None,
    *,
    scenario: str = "golden",
    outcome: str | None = None,
    schema_version: int = 2,
    **fields: Any,
) -> dict:
    """verdict.json of the crafted run, in the current schema unless ``schema_version=1``.

    ``outcome`` defaults to unsound if a check failed, else sound: the crafted folders are
    renderer inputs, and a renderer shows what the verdict says (the audit decides it). The
    golden checks lack four core checks, which the verdict lists as not judged.
    """
    unjudged = [] if checks else ["content", "bad-input", "drained", "dlq-explained"]
    checks = [dict(c, passed=c["status"] == "passed") for c in (checks or CHECKS)]
    failed = any(c["status"] == "failed" for c in checks)
    doc: dict[str, Any] = {
        "schema_version": schema_version, "run_id": "r-golden", "scenario": scenario,
        "seed": 2045, "checks": checks,
        "figures": {
            "throughput": {"acknowledged_per_s": 1.8, "sent_per_s": 2.0},
            "service_ms": {"p50": 34.0, "p95": 228.0},
            "response_ms": {"p50": 36.5, "p95": 461.25},
            "e2e_s": {"p50": 0.6, "p95": 3.3},
            "counts": {"sent": 40, "acknowledged": 36, "stored": 35, "rejected": 4},
        },
    }
    if schema_version == 1:
        doc.update(sound=not failed, interrupted=False)
    else:
        outcome = outcome or ("unsound" if failed else "sound")
        doc.update(outcome=outcome, sound=outcome == "sound", complete=True,
                   unjudged=unjudged, allow_partial=False, error=None)
    doc.update(fields)
    return doc


#: The supervisor's view of the parser kill (8 s, held to 12 s) and the one-shot pod-worker kill.
EVENTS = [
    {"t": STARTED_AT + 8.02, "component": "parser:0", "event": "exited", "signal": "SIGKILL",
     "code": None},
    {"t": STARTED_AT + 8.05, "component": "parser:0", "event": "held"},
    {"t": STARTED_AT + 12.01, "component": "parser:0", "event": "resumed"},
    {"t": STARTED_AT + 12.12, "component": "parser:0", "event": "restarted", "pid": 4242,
     "restarts": 1},
    {"t": STARTED_AT + 16.03, "component": "pod-worker:0", "event": "exited",
     "signal": "SIGKILL", "code": None},
    {"t": STARTED_AT + 16.14, "component": "pod-worker:0", "event": "restarted", "pid": 4343,
     "restarts": 1},
    {"t": STARTED_AT + 1.0, "component": "parser:0", "event": "started", "pid": 4141},
]
#: A parser log: its lines are the pipeline's words (a hostile one included), placed by time.
PARSER_LOG = [
    "no timestamp yet: cannot be placed",
    "2025-11-28 10:15:01,000 parser:0 INFO parser:0: tracing off: EXODUS_TRACING=off",
    "2025-11-28 10:15:07,500 parser:0 WARNING slow batch " + HOSTILE.replace("\n", " "),
    "2025-11-28 10:15:12,300 parser:0 INFO parser:0: tracing off: EXODUS_TRACING=off",
    "2025-11-28 10:15:12,400 parser:0 ERROR Traceback (most recent call last):",
    "  File \"x.py\", line 1, in <module>",
]


def make_golden_folder(
    parent: Path,
    *,
    name: str = "20251128T101500Z-golden",
    scenario: str = "golden",
    description: str = "Kill the parser for 4 s while 2 evacuees a second arrive.",
    checks: list[dict[str, Any]] | None = None,
    with_verdict: bool = True,
    verdict_doc: dict[str, Any] | None = None,
) -> Path:
    """Write the crafted run folder under ``parent`` and return its path."""
    run_dir = parent / name
    (run_dir / "pages").mkdir(parents=True)
    ledger = _ledger()
    run = {
        "schema_version": 1, "run_id": "r-golden",
        "scenario": {"name": scenario, "description": description,
                     "path": "scenarios/golden.toml",
                     "load": {"evacuees": WISHES, "arrival_rate": 2, "stages": None,
                              "max_in_flight": 8, "mars_share": 0.6, "infiltrator_share": 0.2},
                     "chaos": [], "stack": {"frontends": 1, "parsers": 2, "pod_workers": 2,
                                            "flaws": []}},
        "seed": 2045, "target": "http://127.0.0.1:8045", "state_dir": None,
        "started_at": STARTED_AT, "swarm_ended_at": STARTED_AT + 20.0,
        "drained_at": STARTED_AT + 22.0, "ended_at": STARTED_AT + 23.0, "interrupted": False,
        "phases": {"stack_s": 1.0, "swarm_s": 20.0, "drain_s": 2.0, "audit_s": 0.5},
        "drain": {"drained": True, "seconds": 2.0, "deadline_s": 60},
        "flaws": [], "visibility": {"store": True, "queues": True},
    }
    files = {
        "run.json": json.dumps(run, indent=2),
        "ledger.jsonl": _jsonl(ledger),
        "store-snapshot.jsonl": _jsonl(_snapshot(ledger)),
        "metrics.jsonl": _jsonl(_metrics()),
        "timeline.jsonl": _jsonl(TIMELINE),
        "swarm.json": json.dumps({"sent": WISHES, "acknowledged": 36, "rejected": 4}),
        "pages/index.json": json.dumps([{"url": "/wall?limit=200", "file": "wall.html",
                                         "status": 200, "content_type": "text/html"}]),
        "pages/wall.html": f"<ul><li>{HOSTILE}</li></ul>",
        "events.jsonl": _jsonl(EVENTS),
        "logs/parser-0.log": "\n".join(PARSER_LOG) + "\n",
    }
    if with_verdict:
        doc = verdict_doc if verdict_doc is not None else verdict(checks, scenario=scenario)
        files["verdict.json"] = json.dumps(doc)
    for rel, text in files.items():
        (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / rel).write_text(text, encoding="utf-8")
    return run_dir


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)
