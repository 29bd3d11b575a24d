"""The frontend's pure parts and its group commit, without HTTP."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from exodus2045.app_under_test.backends.local.intake import CONFLICT, DUPLICATE, QUEUED, Submission
from exodus2045.app_under_test.errors import ExodusError, QueueUnavailable
from exodus2045.app_under_test.frontend.batcher import GroupCommit
from exodus2045.app_under_test.frontend.body import (
    FORM,
    JSON,
    content_kind,
    decode_form,
    decode_json,
    queued_body,
    run_scope,
)
from exodus2045.app_under_test.frontend.pages import esc, wall_item
from exodus2045.app_under_test.frontend.problems import Problem
from exodus2045.app_under_test.frontend.ratelimit import TokenBuckets
from exodus2045.app_under_test.frontend.security import merge_headers, security_headers
from exodus2045.app_under_test.parser import parse_body
from exodus2045.app_under_test.wish import content_digest, validate_submission


class RecordingIntake:
    """Outcome by wish id prefix; records every batch it was given."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.fail = fail
        self.gate = threading.Event()
        self.gate.set()

    def accept(self, submissions: Sequence[Submission]) -> list[str]:
        self.gate.wait(10)
        self.batches.append([s.wish_id for s in submissions])
        if self.fail:
            raise QueueUnavailable("refused", code="ThrottlingException")
        return [{"d": DUPLICATE, "c": CONFLICT}.get(s.wish_id[0], QUEUED) for s in submissions]


def sub(wish_id: str) -> Submission:
    return Submission(wish_id, "digest", "{}")


def test_each_waiter_gets_its_own_outcome_and_batches_respect_the_maximum() -> None:
    intake = RecordingIntake()
    ids = [f"{'qdc'[n % 3]}{n}" for n in range(50)]

    async def scenario() -> list[str]:
        batcher = GroupCommit(intake, linger_s=0.001, max_batch=8)
        batcher.start()
        outcomes = await asyncio.gather(*(batcher.submit(sub(i)) for i in ids))
        await batcher.drain()
        return outcomes

    outcomes = asyncio.run(scenario())
    expected = {"q": QUEUED, "d": DUPLICATE, "c": CONFLICT}
    assert outcomes == [expected[i[0]] for i in ids]
    assert sorted(i for batch in intake.batches for i in batch) == sorted(ids)
    assert max(len(b) for b in intake.batches) <= 8


def test_submissions_arriving_during_a_commit_go_out_together_next() -> None:
    intake = RecordingIntake()

    async def scenario() -> None:
        batcher = GroupCommit(intake, linger_s=0.0, max_batch=100)
        batcher.start()
        intake.gate.clear()  # hold the writer inside the first commit
        first = asyncio.ensure_future(batcher.submit(sub("q-first")))
        for _ in range(10_000):  # until the writer holds the first batch
            if batcher._busy:
                break
            await asyncio.sleep(0)
        assert batcher._busy
        later = [asyncio.ensure_future(batcher.submit(sub(f"q{n}"))) for n in range(10)]
        intake.gate.set()
        assert await first == QUEUED
        assert await asyncio.gather(*later) == [QUEUED] * 10
        await batcher.drain()

    asyncio.run(scenario())
    assert intake.batches == [["q-first"], [f"q{n}" for n in range(10)]]


def test_a_failed_commit_fails_every_waiter_of_that_batch() -> None:
    intake = RecordingIntake(fail=True)

    async def scenario() -> list[object]:
        batcher = GroupCommit(intake, linger_s=0.005)
        batcher.start()
        results = await asyncio.gather(*(batcher.submit(sub(f"q{n}")) for n in range(5)),
                                       return_exceptions=True)
        await batcher.drain()
        return results

    results = asyncio.run(scenario())
    assert all(isinstance(r, QueueUnavailable) for r in results)
    assert sum(len(b) for b in intake.batches) == 5


def test_drain_commits_what_is_pending_then_refuses() -> None:
    intake = RecordingIntake()

    async def scenario() -> asyncio.Future:
        batcher = GroupCommit(intake, linger_s=5.0)  # would linger far past the drain
        batcher.start()
        pending = batcher.submit_nowait(sub("q-last"))
        await batcher.drain()
        with pytest.raises(QueueUnavailable):
            batcher.submit_nowait(sub("q-too-late"))
        return pending

    pending = asyncio.run(scenario())
    assert pending.result() == QUEUED
    assert intake.batches == [["q-last"]]


# -- body ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "kind"), [
    ("application/json", JSON),
    ("Application/JSON; charset=UTF-8", JSON),
    ("application/merge-patch+json", JSON),
    ("application/x-www-form-urlencoded", FORM),
    ("application/x-www-form-urlencoded; charset=utf-8", FORM),
])
def test_content_kinds_we_read(header: str, kind: str) -> None:
    assert content_kind(header) == kind


@pytest.mark.parametrize("header", [None, "", "text/plain", "multipart/form-data; boundary=x",
                                    "application/json; charset=utf-16", "application/xml"])
def test_content_kinds_we_refuse(header: str | None) -> None:
    with pytest.raises(Problem) as err:
        content_kind(header)
    assert (err.value.status, err.value.field) == (415, "content-type")
    assert content_kind(header, lenient=True) == JSON  # the no-validation flaw takes it all


def test_problems_are_exodus_errors_with_a_complete_body() -> None:
    problem = Problem(422, "invalid-wish", "must not be empty", field="evacuee\udc80")
    assert isinstance(problem, ExodusError)
    doc = problem.body()
    assert doc["type"].endswith("invalid-wish") and doc["title"] == "Unprocessable Entity"
    assert doc["field"] == "evacuee?"  # a lone surrogate cannot reach the encoder
    json.dumps(doc).encode("utf-8")


def test_decoders_turn_failures_into_problems() -> None:
    with pytest.raises(Problem) as err:
        decode_json(b"[" * 100_000)
    assert (err.value.status, err.value.field) == (400, "body")
    assert decode_form(b"evacuee=Zo%C3%AB+A&message=a%26b") == {"evacuee": "Zoë A",
                                                                "message": "a&b"}


def test_run_scope_needs_the_run_keys_signature(tmp_path: Path) -> None:
    from exodus2045.app_under_test.runkey import RunKeys, signature

    keys = RunKeys(tmp_path)
    key = b"k" * 32
    keys.register("r-1", key)
    raw = b'{"wish_id":"w"}'
    good = {"x-exodus-run": "r-1", "x-exodus-sig": signature(key, "r-1", "w", raw)}
    assert run_scope({}, raw, keys) == (None, "audience")
    assert run_scope({"x-exodus-run": "r-1"}, raw, keys) == (None, "audience")
    assert run_scope(good, raw, keys) == ("r-1", "swarm")
    assert run_scope(good, raw + b" ", keys) == (None, "audience"), "the body is signed"
    assert run_scope({**good, "x-exodus-run": "r-2"}, raw, keys) == (None, "audience")
    assert run_scope({**good, "x-exodus-run": "r" * 101}, raw, keys) == (None, "audience")
    other = {**good, "x-exodus-sig": signature(b"x" * 32, "r-1", "w", raw)}
    assert run_scope(other, raw, keys) == (None, "audience")
    assert RunKeys(tmp_path).lookup("r-1") == key, "read back from the state dir"
    assert RunKeys(tmp_path).lookup("../r-1") is None


def test_the_queued_body_round_trips_through_the_parser() -> None:
    clean = validate_submission({"evacuee": " Zoë ", "destination": "MARS",
                                 "message": "e\u0301 <b>bold</b>\u0007"})
    body = queued_body(clean, "r-9", "swarm", 1234.5)
    parsed = parse_body(body, now=2000.0)
    assert parsed == {**clean, "run_id": "r-9", "source": "swarm", "markup": True,
                      "accepted_at": 1234.5, "parsed_at": 2000.0}
    assert parsed["message"] == "\u00e9 <b>bold</b>" and parsed["evacuee"] == "Zoë"
    assert content_digest(clean) == content_digest(validate_submission(
        {"evacuee": "Zoë", "destination": "mars", "message": "\u00e9 <b>bold</b>"}))


# -- pages, headers, buckets -------------------------------------------------------------------
def test_escaping_covers_text_and_attributes() -> None:
    assert esc('<a href="x">\'') == "&lt;a href=&quot;x&quot;&gt;&#x27;"
    item = wall_item({"message": "<img src=x onerror=alert(1)>", "evacuee": '"><svg onload=1>',
                      "destination": "mars\"><script>", "stored_at": 0.0})
    assert "<img" not in item and "<svg" not in item and "<script" not in item
    assert 'class="wish wish-other"' in item


def test_security_headers_never_duplicate_and_only_the_exempt_path_lacks_csp() -> None:
    headers = security_headers("/wall", frozenset({"/message"}))
    assert (b"content-security-policy" in dict(headers))
    assert b"content-security-policy" not in dict(security_headers("/message",
                                                                    frozenset({"/message"})))
    merged = merge_headers([(b"x-frame-options", b"SAMEORIGIN")], headers)
    assert [v for k, v in merged if k == b"x-frame-options"] == [b"SAMEORIGIN"]
    shouted = merge_headers([(b"X-Frame-Options", b"SAMEORIGIN")], headers)
    assert [v for k, v in shouted if k.lower() == b"x-frame-options"] == [b"SAMEORIGIN"]
    plain = merge_headers([(b"content-type", b"text/plain")], headers)
    assert plain == [(b"content-type", b"text/plain"), *headers]


def test_token_buckets_refill_with_the_clock() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=1.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0.0  # per client
    now[0] = 1.0
    assert buckets.take("a") == 0.0
    assert not TokenBuckets(rate=0).enabled and TokenBuckets(rate=0).take("a") == 0.0


def test_a_waiter_cancelled_before_the_hand_over_is_not_enqueued() -> None:
    intake = RecordingIntake()

    async def scenario() -> None:
        batcher = GroupCommit(intake, linger_s=5.0)
        batcher.start()
        gone = batcher.submit_nowait(sub("q-gone"))
        kept = batcher.submit_nowait(sub("q-kept"))
        gone.cancel()
        await batcher.drain()
        assert kept.result() == QUEUED

    asyncio.run(scenario())
    assert intake.batches == [["q-kept"]]
