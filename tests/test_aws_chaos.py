"""Chaos on a deployed stack (chaos/aws.py), on the local AWS: the same fault names, AWS's
forms of them, only on resources tagged as the stack's; a short chaos scenario stays SOUND
with its recovery checks, and every fault is undone after the run."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import pytest
from exodus2045.app_under_test.backends.aws.provision import create_queue_pair, delete_queue_pair
from exodus2045.chaos.aws import AwsChaos, AwsChaosError, StackTargets
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.timeline import Timeline

from tests.aws_fixtures import Ministack, ministack_session  # noqa: F401 - the fixture
from tests.test_aws_run import deploy, destroy, exodus, verdict

SCENARIO = Path(__file__).parent / "scenarios" / "aws-chaos.toml"


@pytest.mark.slow
def test_a_chaos_scenario_on_aws_is_sound_with_recovery_checks(ministack, tmp_path):
    stack, outputs = deploy(ministack)
    lam, sqs = ministack.client("lambda"), ministack.client("sqs")
    try:
        done = exodus("run", str(SCENARIO), "--stack", stack, "--aws-endpoint",
                      ministack.endpoint, "--out", str(tmp_path / "run"))
        assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
        v = verdict(tmp_path / "run")
        assert v["outcome"] == "sound"
        checks = {c["id"]: c["status"] for c in v["checks"]}
        recovery = sorted(k for k in checks if k.startswith("recovery:"))
        assert recovery == ["recovery:kill:parser@2s", "recovery:pause:pod-worker@3s",
                            "recovery:poison:parser@4s", "recovery:visibility:pod-worker@8s"]
        assert all(checks[k] == "passed" for k in recovery)
        lines = [json.loads(x) for x in
                 (tmp_path / "run" / "timeline.jsonl").read_text().splitlines()]
        on = {x["fault"]: x["params"] for x in lines if x["event"] == "on"}
        assert on["kill"]["reserved_concurrency"] == 0
        assert on["pause"]["enabled"] is False and on["visibility"]["visibility_s"] == 1
        assert sum(1 for x in lines if x["event"] == "off") == 4
        # everything undone: no reserved concurrency, mappings on, visibility as deployed
        fn = outputs["ParserFunctionName"]
        assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
            FunctionName=fn)
        mapping = lam.get_event_source_mapping(UUID=outputs["PodWorkerMappingId"])
        assert mapping["State"] in ("Enabled", "Enabling")
        attrs = sqs.get_queue_attributes(QueueUrl=outputs["ParsedQueueUrl"],
                                         AttributeNames=["VisibilityTimeout"])["Attributes"]
        assert attrs["VisibilityTimeout"] == "180"
    finally:
        destroy(ministack, stack)


def test_chaos_touches_only_the_stacks_tagged_resources(ministack, tmp_path):
    sqs = ministack.client("sqs")
    url, dlq = create_queue_pair(sqs, f"untagged-{uuid.uuid4().hex[:8]}")
    try:
        targets = StackTargets("exo-mine", functions={"parser": "nope", "pod-worker": "nope"},
                               mappings={}, queues={"parser": url, "pod-worker": url})
        chaos = AwsChaos(targets, ministack.client("lambda"), sqs)
        timeline = Timeline(tmp_path / "t.jsonl", 0.0, "scenario")
        with pytest.raises(AwsChaosError, match="not tagged exodus:stack=exo-mine"):
            chaos.switch_on(ChaosStep(0, "poison", "parser", params={"count": 1}), timeline,
                            1, random.Random(1))
        assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"] == "0"
        with pytest.raises(AwsChaosError, match="fault board"):
            chaos.switch_on(ChaosStep(0, "throttle", "pod-worker/store.put", 5), timeline, 1)
        with pytest.raises(AwsChaosError, match="without a duration"):
            chaos.switch_on(ChaosStep(0, "kill", "parser"), timeline, 1)
    finally:
        delete_queue_pair(sqs, url, dlq)
