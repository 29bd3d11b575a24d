"""``exodus run`` / ``exodus demo`` as a user runs them: real processes end to end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET

import psutil
import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow


def test_smoke_run_is_sound_and_writes_every_report(tmp_path):
    out = tmp_path / "smoke"
    result = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke", "--out",
                             str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["sound"] is True and verdict["scenario"] == "smoke"
    assert (verdict["outcome"], verdict["complete"], verdict["unjudged"]) == ("sound", True, [])
    ids = [c["id"] for c in verdict["checks"]]
    assert ids[:10] == ["exactly-once", "no-phantoms", "tally", "content", "bad-input",
                        "no-false-rejects", "no-executable-markup", "drained", "dlq-explained",
                        "slo"]
    assert all(c["status"] == "passed" for c in verdict["checks"])
    for name in ("report.html", "summary.md", "junit.xml", "ledger.jsonl", "run.json",
                 "store-snapshot.jsonl", "queues.json", "tally.json", "metrics.jsonl",
                 "timeline.jsonl", "pages/index.json", "locust_stats.csv"):
        assert (out / name).exists(), name
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert len({line["wish_id"] for line in ledger}) == 600
    assert {line["kind"] for line in ledger} == {"evacuee", "infiltrator"}
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite.get("failures") == "0" and int(suite.get("tests")) == len(ids)
    assert "SOUND" in result.stdout and "report:" in result.stdout
    # one clock: the swarm's t0 is the run's (and the chaos schedule's) t0, not a later one
    run, swarm = (json.loads((out / name).read_text()) for name in ("run.json", "swarm.json"))
    assert swarm["t0"] == pytest.approx(run["started_at"], abs=1e-5)
    assert min(line["intended_at"] for line in ledger) >= swarm["t0"] - 1e-6
    _judged_cold_the_same(out, tmp_path / "cold")


def _judged_cold_the_same(out, cold) -> None:
    """What the runner judged with the ledger read and the seed re-planned while the swarm
    ran (reports/ahead.py) is what a cold audit of the folder says, byte for byte."""
    import shutil

    from exodus2045.reports.audit import audit_data
    from exodus2045.reports.render import render_all
    from exodus2045.reports.runfolder import RunData

    ahead = json.loads((out / "run.json").read_text())["ahead"]
    assert ahead["ledger_lines"] and ahead["planned"] and ahead["store_rows"], ahead
    shutil.copytree(out, cold)
    data = RunData.load(cold)
    verdict = audit_data(data)
    verdict.save(cold)
    render_all(cold, verdict=verdict, run=data)
    for name in ("verdict.json", "report.html", "summary.md", "junit.xml"):
        assert (cold / name).read_bytes() == (out / name).read_bytes(), name


def test_ctrl_c_writes_an_interrupted_verdict_exits_2_and_leaves_nothing(tmp_path):
    out = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "exodus2045.scenarios.cli", "run", "smoke", "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        wait_for(lambda: (out / "ledger.jsonl").exists()
                 and (out / "ledger.jsonl").stat().st_size > 2000, timeout=120,
                 what="the swarm to be sending")
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 5  # frontend, pollers, locust
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, output[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    assert (verdict["outcome"], verdict["sound"]) == ("interrupted", False)
    assert "INTERRUPTED" in output and "interrupted" in output
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []


def test_demo_shows_progress_then_the_verdict_and_report(tmp_path):
    result = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "demo", "--evacuees", "120",
                             "--arrival-rate", "120", "--runs-dir", str(tmp_path / "runs")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "acknowledged" in result.stdout and "stored" in result.stdout
    assert "SOUND (10 passed, 0 failed, 0 skipped)" in result.stdout
    [run_dir] = list((tmp_path / "runs").iterdir())
    assert run_dir.name.endswith("-smoke") and (run_dir / "report.html").exists()
    assert f"report: {run_dir}/report.html" in result.stdout.replace("\n", "")
