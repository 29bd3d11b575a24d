"""Attribution on real runs: the faulted hop is the one that moved most.

Relative, never absolute: each test names the fault and asserts which hop carried it, from
the breakdown the audit wrote (report.html, summary.md) out of the stored wishes' hop times.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exodus2045.reports.around import describe
from exodus2045.reports.render import build_context

SCENARIOS = Path(__file__).parent / "scenarios"


def _run(scenario: Path, out: Path, *extra: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "run", str(scenario), "--out", str(out),
         *extra],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    verdict = json.loads((out / "verdict.json").read_text())
    failed = [(c["id"], c["summary"]) for c in verdict["checks"] if c["status"] != "passed"]
    assert done.returncode == 0, (failed, done.stderr[-2000:])


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "fault", "hop"), [
    ("parser-outage-short.toml", "kill parser", "queue_wait_1"),
    ("store-latency-short.toml", "latency pod-worker/store.put", "store"),
])
def test_the_faulted_hop_moved_most(tmp_path: Path, scenario: str, fault: str, hop: str) -> None:
    out = tmp_path / "run"
    _run(SCENARIOS / scenario, out, "--tracing", "off")
    ctx = build_context(out)
    assert ctx.hops is not None and ctx.hops.wishes == ctx.hops.stored > 250
    [window] = [w for w in ctx.hops.windows if w.label == fault]
    assert window.moved == hop, window
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert f"during {fault}: {hop.replace('_', ' ')} +" in summary
    assert "tracing was off" in summary and not (out / "spans.jsonl").exists()
    if fault == "kill parser":  # the +-3 s panel: the supervisor saw the kill and the restart
        [near] = [n for n in ctx.around if n.label == fault]
        seen = [(e["component"], describe(e)) for e in near.events]
        assert ("parser:0", "exited (SIGKILL)") in seen and ("parser:0", "held") in seen, seen
        assert ("parser:0", "resumed") in seen and ("parser:0", "restarted (restart 1)") in seen
        page = (out / "report.html").read_text(encoding="utf-8")
        assert "Around each fault" in page and "exited (SIGKILL)" in page
        assert (out / "logs" / "parser-0.log").is_file()
