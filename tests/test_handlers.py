"""Parser and pod-worker handlers on realistic SQS events, with real SQLite ports."""

from __future__ import annotations

import json

import pytest

from exodus2045.app_under_test import parser, pod_worker
from exodus2045.app_under_test.backends.local import LocalBackend
from exodus2045.app_under_test.poller import Poller
from exodus2045.app_under_test.ports import OutgoingMessage
from tests.conftest import frontend_body


def failures(response: dict) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_parser_normalises_and_flags_markup(backend: LocalBackend, make_sqs_event):
    handler = parser.make_handler(backend.parsed, backend.wishes)
    body = frontend_body(message="Cafe\u0301 <b>bold</b>\x07 done", evacuee="  Zoë\x00 ")
    assert failures(handler(make_sqs_event([body]))) == []
    [msg] = backend.parsed.receive(10)
    parsed = json.loads(msg.body)
    assert parsed["message"] == "Café <b>bold</b> done"  # NFC, control char gone, markup kept
    assert parsed["evacuee"] == "Zoë"
    assert parsed["markup"] is True
    assert parsed["wish_id"] == body["wish_id"] and parsed["parsed_at"] >= body["accepted_at"]


def test_the_skip_nfc_flaw_stores_the_message_as_sent(backend: LocalBackend, make_sqs_event):
    handler = parser.make_handler(backend.parsed, backend.wishes, frozenset({"skip-nfc"}))
    body = frontend_body(message="Cafe\u0301\x07 done", evacuee="Zoe\u0308")
    assert failures(handler(make_sqs_event([body]))) == []
    parsed = json.loads(backend.parsed.receive(10)[0].body)
    assert parsed["message"] == "Cafe\u0301 done"  # still decomposed; controls still go
    assert parsed["evacuee"] == "Zo\u00eb"  # the flaw is the message's only


def test_parser_dead_letters_what_can_never_be_valid(backend: LocalBackend, make_sqs_event):
    handler = parser.make_handler(backend.parsed, backend.wishes)
    poison = ['{"truncated', '"a string"', json.dumps(frontend_body(destination="venus")),
              json.dumps(frontend_body(message="x" * 2001)), json.dumps({"wish_id": "nope"})]
    good = frontend_body(1)
    event = make_sqs_event([*poison, good])
    assert failures(handler(event)) == []
    reasons = [d["reason"] for d in backend.wishes.dead_letters()]
    assert len(reasons) == 5
    assert reasons[0].startswith("malformed JSON") and "wrong schema" in reasons[1]
    assert "destination" in reasons[2] and "message" in reasons[3]
    assert [json.loads(m.body)["wish_id"] for m in backend.parsed.receive(10)] == [good["wish_id"]]


def test_parser_reports_transient_send_failure_for_redelivery(backend, make_sqs_event):
    class Down:
        name = "parsed"

        def send_batch(self, messages):
            from exodus2045.app_under_test.errors import QueueUnavailable
            raise QueueUnavailable("throttled", "ThrottlingException")

    event = make_sqs_event([frontend_body(0), frontend_body(1)])
    handler = parser.make_handler(Down(), backend.wishes)
    assert failures(handler(event)) == [r["messageId"] for r in event["Records"]]


def test_a_final_error_is_not_retried_as_a_batch_item_failure(backend, make_sqs_event):
    """GIVEN a send that fails for good (a caller bug, not a transient outage)
    WHEN the parser handles a batch
    THEN the error propagates (the poller fails the batch loudly, as Lambda would) instead
    of being reported as retryable item failures that loop until the DLQ hides the bug."""
    from exodus2045.app_under_test.errors import InvalidMessageContents, Retryable

    class Broken:
        name = "parsed"

        def send_batch(self, messages):
            raise InvalidMessageContents("not valid UTF-8")

    assert not issubclass(InvalidMessageContents, Retryable)
    handler = parser.make_handler(Broken(), backend.wishes)
    with pytest.raises(InvalidMessageContents):
        handler(make_sqs_event([frontend_body(0)]))


def test_pod_worker_stores_once_and_tallies_once(backend: LocalBackend, make_sqs_event):
    handler = pod_worker.make_handler(backend.store, backend.parsed)
    wish = parser.parse_body(json.dumps(frontend_body(0)))
    event = make_sqs_event([wish], queue="parsed")
    assert failures(handler(event)) == []
    assert failures(handler(make_sqs_event([wish], queue="parsed", receive_count=2))) == []
    assert backend.store.count() == 1
    assert backend.store.tally() == {"jupiter": 0, "mars": 1}
    assert backend.store.get(wish["wish_id"])["stored_at"] > 0


def test_double_tally_flaw_bumps_on_every_delivery(state, make_sqs_event):
    from exodus2045.app_under_test.backends.local import open_local

    b = open_local(state, flaws=frozenset({"double-tally"}))
    handler = pod_worker.make_handler(b.store, b.parsed, frozenset({"double-tally"}))
    wish = parser.parse_body(json.dumps(frontend_body(0)))
    handler(make_sqs_event([wish], queue="parsed"))
    handler(make_sqs_event([wish], queue="parsed", receive_count=2))
    assert b.store.count() == 1 and b.store.tally()["mars"] == 2
    b.close()


def test_pod_worker_dead_letters_oversize_and_wrong_schema(backend, make_sqs_event):
    handler = pod_worker.make_handler(backend.store, backend.parsed)
    big = parser.parse_body(json.dumps(frontend_body(0)))
    big["message"] = "y" * 500_000
    surrogate = parser.parse_body(json.dumps(frontend_body(1)))
    surrogate["message"] = "lone \udcff surrogate"
    event = make_sqs_event([big, {"wish_id": 3}, "\udcff not json", surrogate], queue="parsed")
    assert failures(handler(event)) == []
    reasons = [d["reason"] for d in backend.parsed.dead_letters()]
    assert reasons[0].startswith("oversize") and reasons[1].startswith("wrong schema")
    assert reasons[2].startswith("malformed JSON")
    assert reasons[3] == "invalid unicode: message holds a lone surrogate"
    assert backend.store.count() == 0


def test_pipeline_end_to_end_through_pollers(backend: LocalBackend):
    """GIVEN 25 queued wishes, WHEN both pollers drain, THEN all stored, queues empty."""
    bodies = [frontend_body(n) for n in range(25)]
    backend.wishes.send_batch([OutgoingMessage(json.dumps(b)) for b in bodies])
    parse = Poller(backend.wishes, parser.make_handler(backend.parsed, backend.wishes), "parser:0",
                   wait_time_s=0)
    store = Poller(backend.parsed, pod_worker.make_handler(backend.store, backend.parsed),
                   "pod-worker:0", wait_time_s=0)
    assert parse.drain() == 25 and store.drain() == 25
    assert backend.store.count() == 25
    assert backend.store.tally() == {"mars": 13, "jupiter": 12}
    for q in (backend.wishes, backend.parsed):
        d = q.depth()
        assert (d.visible, d.in_flight, d.dead_letters) == (0, 0, 0)


def test_handler_exception_fails_whole_batch(backend: LocalBackend):
    backend.wishes.send_batch([OutgoingMessage("{}"), OutgoingMessage("{}")])

    def boom(event, context):
        raise RuntimeError("cold start blew up")

    p = Poller(backend.wishes, boom, "parser:0", wait_time_s=0)
    assert p.poll_once() == 2
    assert p.stats.failed == 2 and backend.wishes.depth().in_flight == 2


def test_lossy_worker_flaw_drops_some_wishes(state, make_sqs_event):
    from exodus2045.app_under_test.backends.local import open_local

    b = open_local(state)
    handler = pod_worker.make_handler(b.store, b.parsed, frozenset({"lossy-worker"}))
    wishes = [parser.parse_body(json.dumps(frontend_body(n))) for n in range(200)]
    for i in range(0, 200, 10):
        assert failures(handler(make_sqs_event(wishes[i:i + 10], queue="parsed"))) == []
    assert 150 < b.store.count() < 200
    b.close()
