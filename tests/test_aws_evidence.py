"""The ``aws`` evidence source and the frontend's AWS intake, on the local AWS: queues and a
table made directly (no stack), clients injected."""

from __future__ import annotations

import json
import uuid

import pytest

from exodus2045.app_under_test.backends.aws import open_aws
from exodus2045.app_under_test.backends.aws.clients import AwsClients
from exodus2045.app_under_test.backends.aws.provision import (
    create_queue_pair,
    create_table,
    delete_queue_pair,
    delete_table,
)
from exodus2045.app_under_test.backends.local.intake import (
    CONFLICT,
    DUPLICATE,
    QUEUED,
    Submission,
)
from exodus2045.app_under_test.errors import QueueUnavailable
from exodus2045.app_under_test.ports import OutgoingMessage
from exodus2045.app_under_test.settings import AwsResources
from exodus2045.scenarios.evidence import Evidence, EvidenceConfig, Question
from exodus2045.scenarios.evidence.aws import DLQ_READ, AwsSource
from tests.aws_fixtures import Ministack, ministack_session  # noqa: F401 - the fixture
from tests.conftest import frontend_body


@pytest.fixture
def resources(ministack: Ministack):
    sqs, ddb = ministack.client("sqs"), ministack.client("dynamodb")
    tag = uuid.uuid4().hex[:10]
    wishes = create_queue_pair(sqs, f"ev-wishes-{tag}", visibility_s=30, max_receive_count=2)
    parsed = create_queue_pair(sqs, f"ev-parsed-{tag}", visibility_s=30, max_receive_count=2)
    table = create_table(ddb, f"ev-{tag}")
    yield AwsResources(*wishes, *parsed, table)
    delete_queue_pair(sqs, *wishes)
    delete_queue_pair(sqs, *parsed)
    delete_table(ddb, table)


@pytest.fixture
def clients(ministack: Ministack) -> AwsClients:
    return AwsClients(ministack.client("sqs"), ministack.client("dynamodb"))


def test_aws_source_answers_from_the_table_and_queues(clients, resources):
    backend = open_aws(clients, resources)
    mine = [frontend_body(n, run_id="r-mine") for n in range(5)]
    other = frontend_body(9, run_id=None, source="audience")
    backend.store.put_wishes([*mine, other])
    backend.parsed.send_dead_letter('{"wish_id": "x"}', "invalid wish: destination")
    backend.wishes.send_batch([OutgoingMessage("{}")])

    source = AwsSource(clients, resources, stack="exo-test")
    assert source.cannot_answer(Question.PAGES) and source.cannot_answer(Question.RESTARTS)
    assert {w["wish_id"] for w in source.stored_wishes("r-mine")} == {w["wish_id"] for w in mine}
    assert [w["wish_id"] for w in source.audience_wishes(0)] == [other["wish_id"]]
    assert source.tally() == {"jupiter": 3, "mars": 3}
    assert source.stored_counts() == {"mars": 3, "jupiter": 3}
    looked = source.lookup([mine[0]["wish_id"], "nope"])
    assert [x.found for x in looked] == [True, False]
    assert source.backlog() == 1
    assert source.queue_depths()["parsed"]["dlq"] == 1
    first = source.dead_letters()
    again = source.dead_letters()  # read without consuming: still there, receive count up
    assert [d["reason"] for d in first] == ["invalid wish: destination"] == \
        [d["reason"] for d in again]
    assert first[0]["read"] == "visibility 0"
    assert again[0]["receive_count"] > first[0]["receive_count"]
    assert source.queue_depths()["parsed"]["dlq"] == 1


def test_evidence_json_says_the_dlq_was_read_with_visibility_0(clients, resources, tmp_path):
    backend = open_aws(clients, resources)
    backend.wishes.send_dead_letter("{not json", "malformed JSON")
    evidence = Evidence(EvidenceConfig(), sources=[AwsSource(clients, resources, "exo-t")])
    before = evidence.tally_snapshot()
    evidence.collect(tmp_path, "r-x", since=0, acked_ids=[], sample_ids=[], tally_before=before)
    index = json.loads((tmp_path / "evidence.json").read_text())
    letters = index["questions"]["dead-letters"]
    assert letters["source"] == "aws" and letters["how"] == DLQ_READ
    assert "VisibilityTimeout=0" in json.dumps(index["sources"])
    queues = json.loads((tmp_path / "queues.json").read_text())
    assert [d["reason"] for d in queues["dead_letters"]] == ["malformed JSON"]


def _sub(body: dict) -> Submission:
    text = json.dumps(body)
    return Submission(body["wish_id"], f"digest-of-{body['message']}", text)


def test_intake_claims_then_sends_and_a_retry_is_not_a_second_wish(clients, resources):
    backend = open_aws(clients, resources)
    a, b = frontend_body(1), frontend_body(2)
    assert backend.intake.accept([_sub(a), _sub(b)]) == [QUEUED, QUEUED]
    assert backend.intake.accept([_sub(a)]) == [DUPLICATE]
    assert backend.intake.accept([_sub({**a, "message": "other"})]) == [CONFLICT]
    got = backend.wishes.receive(10, wait_time_s=1)
    assert sorted(json.loads(m.body)["wish_id"] for m in got) == sorted([a["wish_id"],
                                                                          b["wish_id"]])
    assert backend.store.count() == 0  # claims are not wishes: the store's reads skip them


def test_a_claim_whose_send_failed_is_sent_again_on_retry(clients, resources):
    backend = open_aws(clients, resources)
    lost = frontend_body(3)
    real_queue = backend.intake.queue

    class Down:
        name = "wishes"

        def send_batch(self, messages):
            raise QueueUnavailable("wishes: down")

    backend.intake.queue = Down()  # the claim lands, the send does not
    with pytest.raises(QueueUnavailable):
        backend.intake.accept([_sub(lost)])
    backend.intake.queue = real_queue
    assert backend.intake.accept([_sub(lost)]) == [DUPLICATE]  # 202, and this time it is sent
    got = backend.wishes.receive(10, wait_time_s=1)
    assert [json.loads(m.body)["wish_id"] for m in got] == [lost["wish_id"]]
    assert backend.intake.accept([_sub(lost)]) == [DUPLICATE]  # now marked: nothing more sent
    assert backend.wishes.depth().visible == 0
