"""``exodus run --state-dir`` drives the stack of ``exodus up``; ``--target`` sees only HTTP."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.conftest import wait_for

pytestmark = pytest.mark.slow


def cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "exodus2045.scenarios.cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.fixture
def up(tmp_path):
    state = tmp_path / "state"
    proc = cli("up", "--port", "0", "--state-dir", str(state), "--parsers", "1",
               "--pod-workers", "1")
    wait_for(lambda: (state / "stack.json").exists()
             and all(c["pid"] for c in json.loads((state / "stack.json").read_text())
                     ["components"]), what="exodus up")
    yield state, json.loads((state / "stack.json").read_text())["url"]
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def test_run_attached_with_a_cli_fault_judges_its_recovery(tmp_path, up):
    state, _ = up
    out = tmp_path / "run"
    run = cli("run", "smoke", "--state-dir", str(state), "--out", str(out), "--evacuees", "300",
              "--arrival-rate", "60")
    wait_for(lambda: (out / "ledger.jsonl").exists(), timeout=60, what="swarm started")
    fault = subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", "chaos", "apply", "kill",
                            "--target", "parser", "--for", "2s", "--state-dir", str(state)],
                           capture_output=True, text=True, timeout=60)
    assert fault.returncode == 0, fault.stderr
    output, _ = run.communicate(timeout=240)
    assert run.returncode == 0, output[-3000:]
    timeline = [json.loads(x) for x in (out / "timeline.jsonl").read_text().splitlines()]
    assert [(x["event"], x["fault"], x["source"]) for x in timeline if x["event"] != "note"][:2] \
        == [("on", "kill", "cli"), ("off", "kill", "cli")]
    verdict = json.loads((out / "verdict.json").read_text())
    recovery = [c for c in verdict["checks"] if c["id"].startswith("recovery:kill:parser@")]
    assert len(recovery) == 1 and recovery[0]["status"] == "passed"
    assert verdict["sound"] is True and verdict["outcome"] == "sound"
    evidence = json.loads((out / "evidence.json").read_text())["questions"]
    assert evidence["stored-wishes"]["source"] == evidence["backlog"]["source"] == "state-dir"
    assert evidence["pages"]["source"] == "http"
    assert_no_secret_in(out, state)


def assert_no_secret_in(run_dir, state) -> None:
    """The run key (and the presenter token, if any) never reaches the run folder."""
    keys = [p.read_text().strip() for p in (state / "run-keys").glob("*.key")]
    assert keys, "the runner registered its run's key with the stack"
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in (state / "run-keys").glob("*.key"))
    for path in run_dir.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            for key in keys:
                assert key.encode() not in text, f"the run key is in {path}"


def test_run_with_target_only_skips_what_http_cannot_see_and_is_unproven(tmp_path, up):
    """Nothing failed, but duplicates and phantoms were never judged: UNPROVEN, exit 1.

    Without the presenter token there is no listing: lookups still judge content and the
    tally (moved by exactly the acknowledged count), not a second row or a phantom."""
    _, url = up
    out = tmp_path / "run"
    run = cli("run", "smoke", "--target", url, "--out", str(out), "--evacuees", "150",
              "--arrival-rate", "75")
    output, _ = run.communicate(timeout=240)
    assert run.returncode == 1, output[-3000:]
    assert "UNPROVEN" in output and "core checks not judged: exactly-once" in output
    verdict = json.loads((out / "verdict.json").read_text())
    assert (verdict["outcome"], verdict["sound"], verdict["complete"]) == ("unproven", False, True)
    assert {"exactly-once", "no-phantoms"} <= set(verdict["unjudged"])
    checks = {c["id"]: c for c in verdict["checks"]}
    for seen in ("tally", "content", "bad-input", "no-false-rejects", "no-executable-markup",
                 "slo"):  # via HTTP
        assert checks[seen]["status"] == "passed", checks[seen]
    assert checks["tally"]["evidence"]["rows_from"] == "lookup"
    assert "quiet target" in checks["tally"]["evidence"]["attribution"]
    assert checks["exactly-once"]["status"] == "skipped"
    assert "found stored by lookup" in checks["exactly-once"]["summary"]
    for unseen in ("no-phantoms", "dlq-explained"):
        assert checks[unseen]["status"] == "skipped"
        assert "no evidence source answered" in checks[unseen]["summary"]
        assert "(http: the target" in checks[unseen]["summary"]
    assert checks["drained"]["status"] == "passed"  # from /metrics' queue depth gauges
    evidence = json.loads((out / "evidence.json").read_text())["questions"]
    assert {q for q, e in evidence.items() if e["answered"]} == {
        "wish-lookup", "tally", "pages", "queue-depths", "backlog"}
    run = json.loads((out / "run.json").read_text())
    assert run["drain"]["by"] == "backlog" and run["drain"]["drained"] is True
    lookups = [json.loads(x) for x in (out / "lookups.jsonl").read_text().splitlines()]
    assert lookups and all(x["found"] for x in lookups)
