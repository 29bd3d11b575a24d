"""The queue contract (tests/queue_contract.py, unchanged) against SQS on the local AWS,
plus what only the SQS adapter has: partial-batch answers, faults mapped to retryable
errors, dead letters read without consuming them."""

from __future__ import annotations

import uuid

import pytest

from exodus2045.app_under_test.backends.aws.provision import create_queue_pair, delete_queue_pair
from exodus2045.app_under_test.backends.aws.queue import SqsQueue
from exodus2045.app_under_test.errors import InvalidMessageContents, QueueUnavailable
from exodus2045.app_under_test.ports import OutgoingMessage
from tests.aws_fixtures import Ministack, ministack_session  # noqa: F401 - the fixture
from tests.queue_contract import QueueContract


@pytest.fixture
def sqs_queue_factory(ministack: Ministack):
    sqs = ministack.client("sqs")
    made: list[tuple[str, str]] = []

    def make(visibility: float, max_receive: int) -> SqsQueue:
        name = f"wishes-{uuid.uuid4().hex[:12]}"
        url, dlq_url = create_queue_pair(sqs, name, visibility, max_receive)
        made.append((url, dlq_url))
        return SqsQueue(sqs, name, url, dlq_url)

    yield make
    for url, dlq_url in made:
        delete_queue_pair(sqs, url, dlq_url)


class TestSqsQueueContract(QueueContract):
    @pytest.fixture
    def queue_factory(self, sqs_queue_factory):
        return sqs_queue_factory


def test_more_than_ten_are_sent_in_batches_of_ten(sqs_queue_factory):
    q = sqs_queue_factory(30.0, 5)
    ids = q.send_batch([OutgoingMessage(f"m{i}") for i in range(23)])
    assert len(set(ids)) == 23
    got = []
    for _ in range(10):
        got.extend(q.receive(10))
        if len(got) == 23:
            break
    assert sorted(m.body for m in got) == sorted(f"m{i}" for i in range(23))
    assert q.delete_batch([m.receipt_handle for m in got]) == 23


def test_attributes_ride_along(sqs_queue_factory):
    q = sqs_queue_factory(30.0, 5)
    q.send_batch([OutgoingMessage("x", {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})])
    assert q.receive(1)[0].attributes["traceparent"].startswith("00-aaaa")


def test_body_sqs_refuses_is_a_caller_error(sqs_queue_factory):
    q = sqs_queue_factory(30.0, 5)
    with pytest.raises(InvalidMessageContents):
        q.send_batch([OutgoingMessage("nul \x00 inside")])
    with pytest.raises(InvalidMessageContents):
        q.send_batch([OutgoingMessage("lone \ud800 surrogate")])


def test_dead_letters_are_read_without_consuming_them(sqs_queue_factory):
    q = sqs_queue_factory(30.0, 5)
    for i in range(3):
        q.send_dead_letter(f"poison {i}", f"reason {i}")
    first = q.dead_letters()
    again = q.dead_letters()
    assert sorted(d["reason"] for d in first) == ["reason 0", "reason 1", "reason 2"]
    assert {d["message_id"] for d in again} == {d["message_id"] for d in first}
    assert q.depth().dead_letters == 3


def test_dead_letter_with_forbidden_characters_is_kept_escaped(sqs_queue_factory):
    q = sqs_queue_factory(30.0, 5)
    q.send_dead_letter("bad \x00 \ud800 body", "invalid unicode")
    [dead] = q.dead_letters()
    assert dead["body"] == "bad \\x00 \\ud800 body"


def test_stale_change_visibility_says_false(sqs_queue_factory):
    q = sqs_queue_factory(30.0, 5)
    q.send_batch([OutgoingMessage("x")])
    m = q.receive(1)[0]
    assert q.delete_batch([m.receipt_handle]) == 1
    assert q.change_visibility(m.receipt_handle, 0) is False


class _Failing:
    """An SQS client whose every call answers with one AWS error."""

    def __init__(self, code: str, status: int) -> None:
        self.code, self.status = code, status

    def __getattr__(self, name):
        from botocore.exceptions import ClientError

        def fail(**kwargs):
            raise ClientError({"Error": {"Code": self.code, "Message": "injected"},
                               "ResponseMetadata": {"HTTPStatusCode": self.status}}, name)

        return fail


@pytest.mark.parametrize(("code", "status"), [("ThrottlingException", 400),
                                              ("RequestThrottled", 403),
                                              ("InternalError", 500),
                                              ("ServiceUnavailable", 503)])
def test_throttling_and_5xx_are_retryable(code, status):
    q = SqsQueue(_Failing(code, status), "wishes", "http://x/q", "http://x/q-dlq")
    with pytest.raises(QueueUnavailable) as caught:
        q.send_batch([OutgoingMessage("x")])
    assert caught.value.code == code
    with pytest.raises(QueueUnavailable):
        q.receive(1)
    with pytest.raises(QueueUnavailable):
        q.depth()


def test_other_client_errors_are_final():
    from botocore.exceptions import ClientError

    q = SqsQueue(_Failing("AWS.SimpleQueueService.NonExistentQueue", 400), "wishes",
                 "http://x/q", "http://x/q-dlq")
    with pytest.raises(ClientError):
        q.receive(1)
