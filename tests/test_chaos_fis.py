"""``exodus chaos export-fis``: what FIS can express becomes an experiment template of the
right shape (ARNs from the stack); what it cannot is an error naming the step and why."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from exodus2045.chaos.fis import FisError, FisStack, fis_template
from exodus2045.chaos.step import ChaosStep
from tests.aws_fixtures import CREDENTIALS, REGION, Ministack, ministack_session  # noqa: F401

ARNS = {"parser": "arn:aws:lambda:us-east-1:123456789012:function:exo-parser",
        "pod-worker": "arn:aws:lambda:us-east-1:123456789012:function:exo-pod-worker"}


def test_latency_and_error_become_lambda_actions_after_their_waits():
    steps = [ChaosStep(5, "latency", "parser/queue.send", 20, probability=0.5,
                       params={"ms": 250}),
             ChaosStep(0, "error", "pod-worker/store.put", 10)]
    t = fis_template(steps, FisStack("exo", ARNS), scenario="s", role_arn="arn:role")
    assert set(t) == {"description", "targets", "actions", "stopConditions", "roleArn", "tags"}
    assert t["targets"]["parser"] == {"resourceType": "aws:lambda:function",
                                      "resourceArns": [ARNS["parser"]], "selectionMode": "ALL"}
    delay = t["actions"]["00-latency-parser"]
    assert delay["actionId"] == "aws:lambda:invocation-add-delay"
    assert delay["parameters"] == {"duration": "PT20S", "invocationPercentage": "50",
                                   "startupDelayMilliseconds": "250"}
    assert delay["targets"] == {"Functions": "parser"} and delay["startAfter"] == ["00-wait"]
    assert delay["description"] == "latency on parser/queue.send, at the invocation"
    assert t["actions"]["00-wait"] == {"actionId": "aws:fis:wait",
                                       "parameters": {"duration": "PT5S"}}
    error = t["actions"]["01-error-pod-worker"]
    assert error["actionId"] == "aws:lambda:invocation-error"
    assert error["parameters"]["preventExecution"] == "true" and "startAfter" not in error
    assert t["stopConditions"] == [{"source": "none"}] and t["tags"]["exodus:stack"] == "exo"


@pytest.mark.parametrize(("step", "named"), [
    (ChaosStep(0, "kill", "parser", 10), "reserved concurrency 0"),
    (ChaosStep(0, "throttle", "pod-worker/store.put", 10), "cannot throttle"),
    (ChaosStep(0, "error", "parser/queue.receive", 10), "event source mapping receives"),
    (ChaosStep(0, "latency", "frontend/queue.send", 10, params={"ms": 5}),
     "not a Lambda function"),
    (ChaosStep(0, "error", "parser:0/queue.send", 10), "no instances"),
    (ChaosStep(0, "error", "parser/queue.send", 10, every_s=30), "no repeat"),
])
def test_what_fis_cannot_express_is_an_error_naming_it(step, named):
    with pytest.raises(FisError) as caught:
        fis_template([step], FisStack("exo", ARNS), scenario="s")
    assert f"chaos[0] {step.fault} on {step.target}" in str(caught.value)
    assert named in str(caught.value)


def _exodus(*args: str, endpoint: str):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
                "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
                "AWS_REGION": REGION})
    return subprocess.run([sys.executable, "-m", "exodus2045.scenarios.cli", *args,
                           "--aws-endpoint", endpoint], capture_output=True, text=True,
                          env=env, timeout=300, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_export_fis_cli_takes_the_arns_from_the_stack(ministack: Ministack, tmp_path):
    stack = f"exo-{uuid.uuid4().hex[:8]}"
    assert _exodus("deploy", "--stack", stack, endpoint=ministack.endpoint).returncode == 0
    try:
        fine = tmp_path / "fis.toml"
        fine.write_text('name = "fis"\n[load]\nevacuees = 10\narrival_rate = 5\n'
                        '[[chaos]]\nat = "3s"\nfault = "latency"\ntarget = "pod-worker/store.put"\n'
                        'duration = "10s"\nms = 300\n')
        done = _exodus("chaos", "export-fis", str(fine), "--stack", stack,
                       endpoint=ministack.endpoint)
        assert done.returncode == 0, done.stderr
        template = json.loads(done.stdout)
        assert template["targets"]["pod-worker"]["resourceArns"] == [
            f"arn:aws:lambda:{REGION}:000000000000:function:{stack}-pod-worker"]
        assert "placeholder" in done.stderr
        refused = _exodus("chaos", "export-fis", "parser-outage", "--stack", stack,
                          endpoint=ministack.endpoint)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr
        assert "chaos[0] kill on parser: FIS cannot express it" in refused.stderr
    finally:
        _exodus("destroy", "--stack", stack, endpoint=ministack.endpoint)
