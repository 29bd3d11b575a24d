"""``exodus run SCENARIO --stack NAME`` on the local AWS: the runner starts a frontend against
the deployed stack, drives it, and audits its table and queues through boto3; the seeded
flaws deployed through the template's Flaws parameter fail their checks on AWS too; and
``exodus up --backend aws --stack NAME`` serves the stack.

Short form (CI budget): 200 evacuees at 20 a second. The emulator's Lambda path keeps up
with that; at 50 a second on this 2-core machine it falls seconds behind (its SQS and
Lambda polling cost grow with depth) and the e2e SLO would judge the emulator, not us.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from exodus2045.app_under_test.backends.aws import open_aws
from exodus2045.app_under_test.backends.aws.clients import AwsClients
from exodus2045.app_under_test.backends.aws.stack import resources_from_outputs
from exodus2045.app_under_test.ports import OutgoingMessage
from tests.aws_fixtures import CREDENTIALS, REGION, Ministack, ministack_session  # noqa: F401
from tests.conftest import frontend_body, wait_for

pytestmark = pytest.mark.slow
# smoke with generous SLOs: these tests judge soundness on a loaded machine, not speed
AWS_SMOKE = str(Path(__file__).parent / "scenarios" / "aws-smoke.toml")
SHORT = ("--evacuees", "200", "--arrival-rate", "20")


def _env(endpoint: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
                "AWS_REGION": REGION})
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def exodus(*args: str, timeout: float = 300, endpoint: str | None = None):
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args],
                          capture_output=True, text=True, env=_env(endpoint), timeout=timeout,
                          stdin=subprocess.DEVNULL)


def deploy(ministack: Ministack, flaws: str = "") -> tuple[str, dict[str, str]]:
    stack = f"exo-{uuid.uuid4().hex[:8]}"
    done = exodus("deploy", "--stack", stack, "--aws-endpoint", ministack.endpoint, "--json",
                  *(("--flaws", flaws) if flaws else ()))
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = json.loads(done.stdout.strip().splitlines()[-1])
    warm_up(ministack, outputs)
    return stack, outputs


def warm_up(ministack: Ministack, outputs: dict[str, str]) -> None:
    """Carry a few wishes through (run id ``warm-up``, so no run judges them) until both
    functions have warm workers: the emulator spawns each Lambda worker on first use, and
    a run should time the pipeline, not the emulator's cold starts."""
    backend = open_aws(AwsClients(ministack.client("sqs"), ministack.client("dynamodb")),
                       resources_from_outputs(outputs))
    bodies = [frontend_body(n, run_id="warm-up") for n in range(20)]
    backend.wishes.send_batch([OutgoingMessage(json.dumps(b)) for b in bodies])

    def through() -> bool:  # every message left both queues (lossy-worker drops ~4%)
        depths = (backend.wishes.depth(), backend.parsed.depth())
        return backend.store.count() > 0 and not any(d.visible + d.in_flight for d in depths)

    wait_for(through, timeout=120, what="warm-up through both queues")


def destroy(ministack: Ministack, stack: str) -> None:
    done = exodus("destroy", "--stack", stack, "--aws-endpoint", ministack.endpoint)
    assert done.returncode == 0, done.stderr[-2000:]


def verdict(run_dir: Path) -> dict:
    return json.loads((run_dir / "verdict.json").read_text())


def test_smoke_on_a_deployed_stack_is_sound_with_every_check_judged(ministack, tmp_path):
    stack, _ = deploy(ministack)
    try:
        # the endpoint from AWS_ENDPOINT_URL here (the flag is tested with the flaws below)
        done = exodus("run", AWS_SMOKE, "--stack", stack, *SHORT, "--out", str(tmp_path / "run"),
                      endpoint=ministack.endpoint)
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        assert "SOUND" in done.stdout
        v = verdict(tmp_path / "run")
        assert v["outcome"] == "sound" and v["complete"] is True
        assert [c["id"] for c in v["checks"] if c["status"] != "passed"] == []
        assert v["figures"]["counts"]["stored"] == v["figures"]["counts"]["acknowledged"] > 150
        index = json.loads((tmp_path / "run" / "evidence.json").read_text())["questions"]
        for question in ("stored-wishes", "tally", "stored-counts", "queue-depths",
                         "dead-letters"):
            assert index[question]["source"] == "aws", question
        assert "VisibilityTimeout=0" in index["dead-letters"]["how"]
        assert index["pages"]["source"] == "http"
        run = json.loads((tmp_path / "run" / "run.json").read_text())
        assert run["aws"]["stack"] == stack
    finally:
        destroy(ministack, stack)


def test_lossy_worker_deployed_fails_exactly_once_on_aws(ministack, tmp_path):
    stack, _ = deploy(ministack, "lossy-worker")
    try:
        done = exodus("run", AWS_SMOKE, "--stack", stack, *SHORT, "--aws-endpoint",
                      ministack.endpoint, "--out", str(tmp_path / "run"))
        assert done.returncode == 1, (done.stdout + done.stderr)[-4000:]
        checks = {c["id"]: c["status"] for c in verdict(tmp_path / "run")["checks"]}
        assert checks["exactly-once"] == "failed"
    finally:
        destroy(ministack, stack)


def _redeliver(ministack: Ministack, outputs: dict[str, str], run_dir: Path,
               stop: threading.Event, sent: list[str]) -> None:
    """SQS is at-least-once: deliver a few stored wishes to the pod worker a second time,
    as SQS may (a lost delete, an expired visibility), while the run is going."""
    backend = open_aws(AwsClients(ministack.client("sqs"), ministack.client("dynamodb")),
                       resources_from_outputs(outputs))
    while not stop.is_set() and len(sent) < 10:
        ledger = run_dir / "ledger.jsonl"
        text = ledger.read_text() if ledger.exists() else ""
        first, complete, _ = text.partition("\n")  # the first line, once it is all there
        run_ids = {json.loads(first)["run_id"]} if complete else set()
        fresh = [w for rid in run_ids for w in backend.store.iterate(rid)
                 if w["wish_id"] not in sent][: 10 - len(sent)]
        if fresh:
            again = [{k: v for k, v in w.items() if k not in ("stored_at", "hidden")}
                     for w in fresh]
            backend.parsed.send_batch([OutgoingMessage(json.dumps(w)) for w in again])
            sent.extend(w["wish_id"] for w in fresh)
        stop.wait(0.5)


def test_double_tally_deployed_fails_tally_on_aws(ministack, tmp_path):
    stack, outputs = deploy(ministack, "double-tally")
    run_dir = tmp_path / "run"
    stop, sent = threading.Event(), []
    helper = threading.Thread(target=_redeliver, args=(ministack, outputs, run_dir, stop, sent))
    helper.start()
    try:
        done = exodus("run", AWS_SMOKE, "--stack", stack, *SHORT, "--aws-endpoint",
                      ministack.endpoint, "--out", str(run_dir))
        stop.set()
        helper.join(timeout=30)
        assert sent, "no wish was redelivered during the run"
        assert done.returncode == 1, (done.stdout + done.stderr)[-4000:]
        checks = {c["id"]: c["status"] for c in verdict(run_dir)["checks"]}
        assert checks["tally"] == "failed"
        assert checks["exactly-once"] == "passed"  # put-once held; only the counter lied
    finally:
        stop.set()
        destroy(ministack, stack)


@contextmanager
def served(ministack: Ministack, stack: str) -> Iterator[str]:
    """``exodus up --backend aws``: a frontend for the deployed stack (the team's API)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "exodus2045.scenarios.cli", "up", "--backend", "aws", "--stack",
         stack, "--aws-endpoint", ministack.endpoint, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env(),
        stdin=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert url, first + proc.stdout.read(2000)
        yield url.group()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_up_backend_aws_serves_the_stack(ministack):
    stack, outputs = deploy(ministack)
    try:
        with served(ministack, stack) as url:
            body = {"wish_id": str(uuid.uuid4()), "evacuee": "Ada", "destination": "Mars",
                    "message": "Water the <b>roses</b>."}
            answer = httpx.post(f"{url}/api/wishes", json=body, timeout=10)
            assert answer.status_code == 202, answer.text
            again = httpx.post(f"{url}/api/wishes", json=body, timeout=10)
            assert again.status_code == 202
            clash = httpx.post(f"{url}/api/wishes", json={**body, "message": "no"}, timeout=10)
            assert clash.status_code == 409
            store = open_aws(AwsClients(ministack.client("sqs"), ministack.client("dynamodb")),
                             resources_from_outputs(outputs)).store
            wait_for(lambda: store.get(body["wish_id"]), timeout=60, what="the wish stored")
            assert store.get(body["wish_id"])["message"] == body["message"]
            assert store.count() == 21  # the warm-up's 20, and this one once
            got = wait_for(lambda: httpx.get(f"{url}/api/wishes/{body['wish_id']}",
                                             timeout=10).status_code == 200, timeout=10)
            assert got
    finally:
        destroy(ministack, stack)


def test_bench_drain_on_aws_beside_local_as_a_ratio(ministack):
    stack, _ = deploy(ministack)
    try:
        done = exodus("bench", "drain", "--backend", "aws", "--stack", stack, "--aws-endpoint",
                      ministack.endpoint, "--wishes", "100", "--json")
        assert done.returncode == 0, done.stderr[-3000:]
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        assert figures["backend"] == "aws" and figures["wishes"] == 100
        assert figures["wishes_per_s"] > 0 and figures["local_wishes_per_s"] > 0
        assert figures["ratio"] == round(figures["wishes_per_s"] /
                                         figures["local_wishes_per_s"], 3)
    finally:
        destroy(ministack, stack)
