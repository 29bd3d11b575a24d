"""Chaos on a deployed stack (chaos/aws.py), on the local AWS: the same fault names, AWS's
forms of them, only on resources tagged as the stack's; a short chaos scenario stays SOUND
with its recovery checks, and every fault is undone after the run."""

from __future__ import annotations

import json
import random
import time
import uuid
from pathlib import Path

import pytest

from exodus2045.app_under_test.backends.aws import open_aws
from exodus2045.app_under_test.backends.aws.clients import AwsClients
from exodus2045.app_under_test.backends.aws.provision import create_queue_pair, delete_queue_pair
from exodus2045.app_under_test.backends.aws.stack import resources_from_outputs
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.chaos.aws import AwsChaos, AwsChaosError, StackTargets
from exodus2045.chaos.ssm_board import READ_EVERY_S
from exodus2045.chaos.step import ChaosStep
from exodus2045.chaos.timeline import Timeline
from tests.aws_fixtures import Ministack, ministack_session  # noqa: F401 - the fixture
from tests.conftest import frontend_body, wait_for
from tests.test_aws_run import deploy, destroy, exodus, verdict

SCENARIO = Path(__file__).parent / "scenarios" / "aws-chaos.toml"


@pytest.mark.slow
@pytest.mark.timeout(600)  # a stranded wish waits out the queue's visibility (aws-chaos.toml)
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
        assert recovery == ["recovery:error:parser/queue.send@6s", "recovery:kill:parser@2s",
                            "recovery:pause:pod-worker@3s", "recovery:poison:parser@4s",
                            "recovery:throttle:pod-worker/store.put@5s",
                            "recovery:visibility:pod-worker@8s"]
        assert all(checks[k] == "passed" for k in recovery)
        lines = [json.loads(x) for x in
                 (tmp_path / "run" / "timeline.jsonl").read_text().splitlines()]
        on = {x["fault"]: x["params"] for x in lines if x["event"] == "on"}
        assert on["kill"]["reserved_concurrency"] == 0
        assert on["pause"]["enabled"] is False and on["visibility"]["visibility_s"] == 1
        assert on["throttle"]["fault_board"] == outputs["FaultParameterName"]
        assert sum(1 for x in lines if x["event"] == "off") == 6
        board = ministack.client("ssm").get_parameter(Name=outputs["FaultParameterName"])
        assert json.loads(board["Parameter"]["Value"])["faults"] == []
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
        with pytest.raises(AwsChaosError, match="has no fault board"):
            chaos.switch_on(ChaosStep(0, "throttle", "pod-worker/store.put", 5), timeline, 1)
        with pytest.raises(AwsChaosError, match="event source mapping does queue.receive"):
            chaos.switch_on(ChaosStep(0, "error", "parser/queue.receive", 5), timeline, 1)
        with pytest.raises(AwsChaosError, match="not built for AWS"):
            chaos.switch_on(ChaosStep(0, "crash-after-store", "pod-worker", 5), timeline, 1)
        with pytest.raises(AwsChaosError, match="without a duration"):
            chaos.switch_on(ChaosStep(0, "kill", "parser"), timeline, 1)
    finally:
        delete_queue_pair(sqs, url, dlq)


@pytest.mark.slow
def test_the_functions_act_on_the_stacks_fault_board(ministack):
    """A store.put error at probability 1 on the board: the pod worker's batches fail and are
    redelivered while it is on (the queue's visibility is shrunk to 2 s so that shows within
    the test); off, every wish is stored, once. A function's view of the board may be up
    to a second old (chaos/ssm_board.py), so a batch in that second may still be stored."""
    stack, outputs = deploy(ministack)
    try:
        backend = open_aws(AwsClients(ministack.client("sqs"), ministack.client("dynamodb")),
                           resources_from_outputs(outputs))
        chaos = AwsChaos(StackTargets.from_outputs(stack, outputs), ministack.client("lambda"),
                         ministack.client("sqs"), ministack.client("ssm"))
        timeline = Timeline(Path("/dev/null"), 0.0, "cli")
        short = chaos.switch_on(ChaosStep(0, "visibility", "pod-worker", 60,
                                          params={"seconds": 2}), timeline, 7)
        on = chaos.switch_on(ChaosStep(0, "error", "pod-worker/store.put", 60), timeline, 7)
        # Not a synchronisation: the documented bound on how stale a warm function's view of
        # the board may be. Past it, every batch must fail.
        seen_by = time.monotonic() + READ_EVERY_S + 0.2
        wait_for(lambda: time.monotonic() > seen_by, timeout=5, what="the board's staleness bound")
        before = backend.store.count()
        bodies = [frontend_body(n, run_id="board") for n in range(5)]
        backend.wishes.send_batch([OutgoingMessage(json.dumps(b)) for b in bodies])
        wait_for(lambda: backend.parsed.depth().in_flight + backend.parsed.depth().visible >= 5
                 or backend.store.count() > before, timeout=60, what="parsed, not stored")
        failing = wait_for(lambda: _receive_counts(ministack, outputs), timeout=90,
                           what="a redelivered pod-worker batch")
        assert max(failing) >= 2  # only a failed batch is received again
        assert backend.store.count() == before  # nothing stored while the error is on
        on.off()
        wait_for(lambda: backend.store.count() == before + 5, timeout=120,
                 what="stored once the error is off")
        assert sorted(w["wish_id"] for w in backend.store.iterate("board")) == \
            sorted(b["wish_id"] for b in bodies)
        short.off()
        assert json.loads(ministack.client("ssm").get_parameter(
            Name=outputs["FaultParameterName"])["Parameter"]["Value"])["faults"] == []
    finally:
        destroy(ministack, stack)


def _receive_counts(ministack: Ministack, outputs) -> list[int]:
    """Receive counts of the parsed queue's messages, read with visibility 0 (no consume)."""
    got = ministack.client("sqs").receive_message(
        QueueUrl=outputs["ParsedQueueUrl"], MaxNumberOfMessages=10, VisibilityTimeout=0,
        MessageSystemAttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
    counts = [int(m["Attributes"]["ApproximateReceiveCount"]) for m in got]
    return counts if counts and max(counts) >= 2 else []
