"""A team's semantics, through its adapter, on the foreign pipeline: ``--target`` + ``--adapter``.

- content modes: a pipeline that escapes (or normalises) on write is judged on content
  under the matching mode, fails under ``exact`` (the mode matters), and a real content
  defect (``truncate``) still fails under the mode; the pages are judged the same whatever
  the mode (an escaped store whose board un-escapes still fails no-executable-markup);
- limits: a pipeline with a 200-character message limit is sound on bad-input and
  no-false-rejects with the right ``[limits]``; without them no-false-rejects fails and its
  summary names the limit mismatch (a failure, not a pass and not a plain defect);
- SigV4: a pipeline that checks every signature is judged when the environment holds the
  key pair, "could not run" (exit 2, one line) without it; no credential reaches the run
  folder or the output.

A message limit of 200 (not 500) because the swarm's messages seldom exceed 500 characters:
200 catches ~6% of them, so every run has some.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.foreign_pipeline import ADAPTER, foreign_pipeline
from tests.test_adapter_semantics import KEY, NO_AWS
from tests.test_foreign_pipeline import DATA_CHECKS, SCENARIO

pytestmark = pytest.mark.slow
AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
SIGV4 = '\n[auth]\nsigv4 = { service = "execute-api", region = "eu-west-1" }\n'


def env_with(aws: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in AWS_VARS}
    return {**env, **NO_AWS, **(aws or {})}


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args],
                          capture_output=True, text=True, timeout=300, env=env or env_with())


def audit(tmp_path: Path, url: str, head: str = "", tail: str = "",
          scenario: str = SCENARIO, env: dict[str, str] | None = None
          ) -> tuple[subprocess.CompletedProcess, dict[str, dict]]:
    """One run through the adapter ``head + ADAPTER + tail``; the checks by id."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "team.toml").write_text(head + ADAPTER + tail)
    (tmp_path / "foreign.toml").write_text(scenario)
    out = tmp_path / "run"
    result = cli("run", str(tmp_path / "foreign.toml"), "--target", url, "--adapter",
                 str(tmp_path / "team.toml"), "--out", str(out), env=env)
    assert (out / "verdict.json").exists(), result.stdout[-3000:] + result.stderr[-3000:]
    verdict = json.loads((out / "verdict.json").read_text())
    return result, {c["id"]: c for c in verdict["checks"]}


def statuses(checks: dict[str, dict], ids=DATA_CHECKS) -> dict[str, str]:
    return {k: checks[k]["status"] for k in ids}


def test_escaped_store_is_judged_under_escaped_and_fails_under_exact(tmp_path):
    with foreign_pipeline(store="escaped") as url:
        _, escaped = audit(tmp_path / "escaped", url, head='content = "escaped"\n')
        _, exact = audit(tmp_path / "exact", url)
    assert set(statuses(escaped).values()) == {"passed"}, statuses(escaped)
    assert "compared escaped" in escaped["content"]["summary"]
    assert escaped["content"]["evidence"]["compared"] >= 150
    assert exact["content"]["status"] == "failed", exact["content"]["summary"]
    assert exact["no-executable-markup"]["status"] == "passed"  # the board is the same


@pytest.mark.parametrize("store", ["escaped", "normalized"])
def test_a_content_defect_still_fails_under_the_mode(store, tmp_path):
    with foreign_pipeline(frozenset({"truncate"}), store=store) as url:
        _, checks = audit(tmp_path, url, head=f'content = "{store}"\n')
    content = checks["content"]
    assert content["status"] == "failed", content["summary"]
    notes = {m["note"] for m in content["evidence"]["mismatches"]}
    assert notes and all(n.startswith(f"{store}: ") for n in notes), notes
    assert {m["field"] for m in content["evidence"]["mismatches"]} == {"message"}


def test_normalized_store_is_judged_under_normalized(tmp_path):
    with foreign_pipeline(store="normalized") as url:
        _, checks = audit(tmp_path, url, head='content = "normalized"\n')
    assert set(statuses(checks).values()) == {"passed"}, statuses(checks)


def test_pages_are_judged_whatever_the_content_mode(tmp_path):
    """An escaped store whose board un-escapes the body: content passes, the page fails."""
    with foreign_pipeline(frozenset({"raw-body"}), store="escaped") as url:
        result, checks = audit(tmp_path, url, head='content = "escaped"\n')
    assert checks["content"]["status"] == "passed", checks["content"]["summary"]
    assert checks["no-executable-markup"]["status"] == "failed"
    assert result.returncode == 1


LIMITED = SCENARIO.replace("error_ratio = 0.08", "error_ratio = 0.3")  # its 422s are errors


def test_declared_limits_make_expected_answers_match_the_target(tmp_path):
    with foreign_pipeline(message_max=200) as url:
        _, right = audit(tmp_path / "right", url, tail="\n[limits]\nmessage_max = 200\n",
                         scenario=LIMITED)
        result, omitted = audit(tmp_path / "omitted", url, scenario=LIMITED)
    assert set(statuses(right).values()) == {"passed"}, statuses(right)
    for check in ("bad-input", "no-false-rejects"):
        assert "expected answers by the adapter's [limits]" in right[check]["summary"]
    refused = omitted["no-false-rejects"]
    assert refused["status"] == "failed", refused["summary"]
    assert "the target's message limit looks smaller than Exodus's 2000" in refused["summary"]
    assert "declares no [limits]" in refused["summary"]
    assert set(refused["evidence"]["refused_by_status"]) == {"422"}
    assert result.returncode == 1 and "declares no [limits]" in result.stdout + \
        (tmp_path / "omitted" / "run" / "verdict.json").read_text()


def test_sigv4_signed_run_is_judged_and_no_credential_is_recorded(tmp_path):
    signed = env_with({"AWS_ACCESS_KEY_ID": KEY[0], "AWS_SECRET_ACCESS_KEY": KEY[1],
                       "AWS_SESSION_TOKEN": "exodus-test-session-token"})
    with foreign_pipeline(sigv4=KEY) as url:
        result, checks = audit(tmp_path, url, tail=SIGV4, env=signed)
        # after the run: the listing claims every row whose ref is a UUID, the check's too
        check = cli("adapter", "check", str(tmp_path / "team.toml"), "--target", url,
                    env=signed)
        wrong = {**signed, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
        wrong_check = cli("adapter", "check", str(tmp_path / "team.toml"), "--target", url,
                          env=wrong)
        wrong_run = cli("run", str(tmp_path / "foreign.toml"), "--target", url, "--adapter",
                        str(tmp_path / "team.toml"), "--out", str(tmp_path / "wrong"), env=wrong)
        unsigned_check = cli("adapter", "check", str(tmp_path / "team.toml"), "--target", url)
        unsigned_run = cli("run", str(tmp_path / "foreign.toml"), "--target", url,
                           "--adapter", str(tmp_path / "team.toml"), "--out",
                           str(tmp_path / "unsigned"))
    assert check.returncode == 0 and "adapter check: OK" in check.stdout, check.stdout
    assert "AWS SigV4 for execute-api in eu-west-1" in check.stdout
    assert set(statuses(checks).values()) == {"passed"}, statuses(checks)
    for done in (unsigned_check, unsigned_run):
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.count("\n") == 1 and "needs AWS credentials" in done.stderr
        assert "Traceback" not in done.stderr
    for done in (wrong_check, wrong_run):
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert "refused the adapter's credentials ([auth] sigv4): GET /v1/stats -> 403" \
            in done.stderr
    assert not (tmp_path / "unsigned").exists() and not (tmp_path / "wrong").exists()
    recorded = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert len(recorded) > 5
    for secret in (KEY[1], "exodus-test-session-token", KEY[0]):
        assert secret not in check.stdout + check.stderr + result.stdout + result.stderr
        leaks = [p for p in recorded if secret.encode() in p.read_bytes()]
        assert not leaks, (secret, leaks)
