"""The queue contract every backend must honour (SQS standard-queue semantics).

Backends plug in through the ``queue_factory`` fixture of the test module that imports this
suite; the ``aws`` backend will run the very same tests against a moto server.
"""

from __future__ import annotations

import time

from exodus2045.app_under_test.ports import OutgoingMessage


def _send(queue, *bodies: str) -> list[str]:
    return queue.send_batch([OutgoingMessage(b) for b in bodies])


class QueueContract:
    """Mix into a test class that provides a ``queue_factory(visibility, max_receive)``."""

    def test_send_then_receive_returns_body_and_count(self, queue_factory):
        q = queue_factory(30.0, 3)
        ids = _send(q, "alpha", "beta")
        got = q.receive(10)
        assert sorted(m.body for m in got) == ["alpha", "beta"]
        assert {m.message_id for m in got} == set(ids)
        assert all(m.receive_count == 1 for m in got)

    def test_received_message_is_invisible_until_timeout(self, queue_factory):
        q = queue_factory(30.0, 3)
        _send(q, "one")
        assert len(q.receive(10)) == 1
        assert q.receive(10) == []
        d = q.depth()
        assert (d.visible, d.in_flight) == (0, 1)

    def test_undeleted_message_reappears_with_higher_receive_count(self, queue_factory):
        q = queue_factory(0.2, 5)
        _send(q, "again")
        first = q.receive(1)
        again = q.receive(1, wait_time_s=3.0)
        assert [m.body for m in again] == ["again"]
        assert again[0].receive_count == first[0].receive_count + 1
        assert again[0].receipt_handle != first[0].receipt_handle

    def test_delete_removes_for_good(self, queue_factory):
        q = queue_factory(0.2, 5)
        _send(q, "gone")
        m = q.receive(1)[0]
        assert q.delete_batch([m.receipt_handle]) == 1
        assert q.receive(1, wait_time_s=0.5) == []
        assert q.depth().visible == q.depth().in_flight == 0

    def test_stale_receipt_deletes_nothing(self, queue_factory):
        q = queue_factory(0.2, 5)
        _send(q, "redelivered")
        stale = q.receive(1)[0]
        fresh = q.receive(1, wait_time_s=3.0)[0]
        assert q.delete_batch([stale.receipt_handle]) == 0
        assert q.delete_batch([fresh.receipt_handle]) == 1

    def test_redrive_to_dlq_after_max_receive_count(self, queue_factory):
        q = queue_factory(0.1, 2)
        _send(q, "poison")
        seen = 0
        deadline = time.monotonic() + 5
        while q.depth().dead_letters == 0 and time.monotonic() < deadline:
            seen += len(q.receive(1, wait_time_s=0.3))
        assert seen == 2
        dead = q.dead_letters()
        assert [d["body"] for d in dead] == ["poison"]
        assert "maxReceiveCount" in dead[0]["reason"]
        assert q.receive(1, wait_time_s=0.3) == []

    def test_change_visibility_makes_visible_now(self, queue_factory):
        q = queue_factory(30.0, 5)
        _send(q, "retry-now")
        m = q.receive(1)[0]
        assert q.change_visibility(m.receipt_handle, 0)
        assert [x.body for x in q.receive(1, wait_time_s=1.0)] == ["retry-now"]

    def test_long_poll_returns_as_soon_as_a_message_arrives(self, queue_factory):
        import threading

        q = queue_factory(30.0, 5)
        sender = threading.Timer(0.3, lambda: _send(q, "late"))
        sender.start()
        got = q.receive(1, wait_time_s=5.0)
        sender.join()
        assert [m.body for m in got] == ["late"]

    def test_batch_of_ten_respects_max_messages(self, queue_factory):
        q = queue_factory(30.0, 5)
        _send(q, *[f"m{i}" for i in range(10)])
        _send(q, *[f"n{i}" for i in range(5)])
        assert len(q.receive(10)) == 10
        assert len(q.receive(10)) == 5

    def test_send_dead_letter_keeps_reason(self, queue_factory):
        q = queue_factory(30.0, 5)
        q.send_dead_letter('{"broken"', "malformed JSON")
        assert q.depth().dead_letters == 1
        assert q.dead_letters()[0]["reason"] == "malformed JSON"
        assert q.receive(1) == []

    def test_unicode_bodies_round_trip(self, queue_factory):
        q = queue_factory(30.0, 5)
        body = '{"message": "Ἀθηνᾶ 🚀 <script>alert(1)</script> \\u0000"}'
        _send(q, body)
        assert q.receive(1)[0].body == body
