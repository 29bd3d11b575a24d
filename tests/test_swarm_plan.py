"""The swarm's pure parts: the plan, the arrival schedule, ledger lines, the tally."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import uuid
from collections import Counter

import pytest

from exodus2045.app_under_test.errors import ConfigError, ExodusError
from exodus2045.app_under_test.wish import validate_submission
from exodus2045.locustfiles.answers import judge, retry_delay, should_retry
from exodus2045.locustfiles.arrivals import (
    ArrivalSchedule,
    LeaseDesk,
    LocalTickets,
    Stage,
    parse_stages,
)
from exodus2045.locustfiles.generate import (
    ANDROID_UA,
    SEND_FIELDS,
    SwarmPlan,
    _build_pools,
    _id_of,
    _wish_id,
    build_pools,
    marker_for,
    plan_sends,
    plan_wish,
)
from exodus2045.locustfiles.ledger import (
    FIELDS,
    LedgerFile,
    ledger_line,
    ledger_prefix,
    prefix_of,
    read_ledger,
)
from exodus2045.locustfiles.payloads import dump_json, markers_in
from exodus2045.locustfiles.percentiles import percentile
from exodus2045.locustfiles.tally import SwarmTally
from tests.swarm_fixtures import verdict_for

N = 10_000


@pytest.fixture(scope="module")
def pools():
    return build_pools(2045)


@pytest.fixture(scope="module")
def wishes(pools):
    plan = SwarmPlan(seed=2045, run_id="r-test", evacuees=N)
    return [plan_wish(plan, n, pools) for n in range(N)]


def test_plan_is_deterministic_for_seed_run_and_n(pools, wishes) -> None:
    again = SwarmPlan(seed=2045, run_id="r-test", evacuees=N)
    fresh_pools = _build_pools.__wrapped__(2045, 1000)  # really draw again, not the cache
    assert fresh_pools.names == pools.names and fresh_pools.messages == pools.messages
    for n in (0, 1, 17, 4242, N - 1):
        assert plan_wish(again, n, fresh_pools) == wishes[n]
    # Out of order (as leased to workers) gives the same wishes as in order.
    assert [plan_wish(again, n, pools) for n in range(N - 1, N - 200, -1)] == wishes[-1:-200:-1]
    other_run = SwarmPlan(seed=2045, run_id="r-other", evacuees=N)
    assert plan_wish(other_run, 5, pools).wish_id != wishes[5].wish_id
    other_seed = build_pools(7)
    assert other_seed.names != pools.names


def test_shares_hold_over_ten_thousand_evacuees(wishes) -> None:
    kinds = Counter(w.kind for w in wishes)
    assert abs(kinds["infiltrator"] / N - 0.05) < 0.01
    legal = [w for w in wishes if w.destination in ("mars", "jupiter")]
    mars = sum(w.destination == "mars" for w in legal) / len(legal)
    assert abs(mars - 0.6) < 0.02
    android = sum(w.user_agent == ANDROID_UA for w in wishes) / N
    assert abs(android - 0.10) < 0.015
    assert len({w.wish_id for w in wishes}) == N
    assert all(uuid.UUID(w.wish_id).version == 4 for w in wishes[:500])


def test_every_planned_expectation_matches_the_contract(wishes) -> None:
    families = Counter()
    for w in wishes:
        status = verdict_for(w.raw, w.content_type)
        assert (status == 202) == (w.expect == "accept"), (w.n, w.family, status)
        if w.expect == "accept":
            assert w.raw == dump_json(w.body), "the fast path must send exactly the plan's body"
        if w.kind == "evacuee":
            assert w.payload is None and w.family is None
            assert json.loads(w.raw) == w.body
            assert validate_submission(w.body)["destination"] == w.destination
        else:
            families[w.family] += 1
            assert w.payload == marker_for(SwarmPlan(2045, "r-test", N), w.n)
            assert w.payload in markers_in(w.raw.decode("utf-8", "replace")) or w.family in (
                "empty-message",
            )
            if w.expect == "accept":
                assert w.payload in w.body["message"]
    assert len(families) >= 40, "10k evacuees should exercise most families and kinds"
    markers = [w.payload for w in wishes if w.payload]
    assert len(markers) == len(set(markers))


def test_pools_are_pure_and_the_audit_side_needs_no_locust() -> None:
    code = (
        "import sys, exodus2045.locustfiles.generate, exodus2045.locustfiles.payloads;"
        "bad = [m for m in ('locust', 'gevent', 'faker') if m in sys.modules];"
        "assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_plan_rejects_nonsense() -> None:
    with pytest.raises(ConfigError):
        SwarmPlan(seed=1, run_id="r", mars_share=1.5)
    with pytest.raises(ConfigError):
        SwarmPlan(seed=1, run_id="")
    with pytest.raises(ConfigError):
        plan_wish(SwarmPlan(seed=1, run_id="r", evacuees=3), 3, build_pools(1, size=10))


def test_the_swarms_batch_planner_sends_exactly_what_plan_wish_plans(pools, wishes) -> None:
    """``plan_sends`` (the hot path) and ``plan_wish`` (the audit's oracle) agree field by field."""
    plan = SwarmPlan(seed=2045, run_id="r-test", evacuees=N)
    as_sent = lambda w: tuple(getattr(w, f) for f in SEND_FIELDS)  # noqa: E731
    assert [as_sent(w) for w in wishes] == plan_sends(plan, range(N), pools)
    shuffled = [N - 1, 0, 4242, 17, 17]  # out of order, repeated: as leased, as retried
    assert plan_sends(plan, shuffled, pools) == [as_sent(wishes[n]) for n in shuffled]
    crowd = SwarmPlan(seed=7, run_id='r-"q"', evacuees=3000, mars_share=0.3,
                      infiltrator_share=0.6)  # fmt: skip
    other = build_pools(7)
    rows = plan_sends(crowd, range(3000), other)
    assert rows == [as_sent(plan_wish(crowd, n, other)) for n in range(3000)]
    assert {row[2] for row in rows} == {"evacuee", "infiltrator"}
    with pytest.raises(ConfigError):
        plan_sends(crowd, [3000], other)


def test_a_planned_wishs_trace_context_is_the_tracing_modules(wishes) -> None:
    """The ticket planner spells the trace id and traceparent out for planned ids (no checks
    per evacuee); for every planned id, with and without an id secret, they are the tracing
    module's own."""
    from exodus2045.app_under_test.tracing import swarm_traceparent, trace_id_for
    from exodus2045.locustfiles.tickets import _traceparent

    secret = SwarmPlan(seed=2045, run_id="r-test", evacuees=N, id_secret=b"s" * 32)
    ids = [w.wish_id for w in wishes] + [_id_of(secret, n, b"") for n in range(N)]
    for wish_id in ids:
        trace_id = wish_id.replace("-", "")
        assert trace_id == trace_id_for(wish_id)
        assert _traceparent(trace_id) == swarm_traceparent(trace_id)


def test_wish_ids_are_the_uuid4_of_the_digest() -> None:
    for i in range(2000):
        digest = hashlib.blake2b(str(i).encode(), digest_size=64).digest()
        h = bytearray(digest[:16])
        h[6] = (h[6] & 0x0F) | 0x40
        h[8] = (h[8] & 0x3F) | 0x80
        assert _wish_id(digest) == str(uuid.UUID(bytes=bytes(h)))


def test_ledger_template_formats_like_the_readable_spelling() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        values = dict(
            attempt=rng.randint(1, 3), status=rng.choice((0, 202, 409, 422, 503)),
            intended_at=1795861333 + rng.random() * 1e5, sent_at=1795861333 + rng.random() * 1e5,
            latency_ms=rng.random() * 10 ** rng.randint(0, 5), response_ms=rng.random() * 1e4,
            n=rng.randint(0, 10**8),
        )  # fmt: skip
        v = values
        expected = (
            f'P"attempt":{v["attempt"]},"status":{v["status"]},"intended_at":{v["intended_at"]:.6f},'
            f'"sent_at":{v["sent_at"]:.6f},"latency_ms":{v["latency_ms"]:.3f},'
            f'"response_ms":{v["response_ms"]:.3f},"n":{v["n"]}}}\n'
        )
        assert ledger_line("P", **values) == expected
    plain = prefix_of("\x00", "r-é", "evacuee", "mars", None, "accept", "\x00")
    head, mid, tail = plain.split("\x00")
    wish_id = "0b7b5c0e-3c53-4c0b-9d3e-2f2a5c1d9e01"
    trace_id = "0b7b5c0e3c534c0b9d3e2f2a5c1d9e01"  # the wish's UUID is its trace id
    assert head + wish_id + mid + trace_id + tail == prefix_of(
        wish_id, "r-é", "evacuee", "mars", None, "accept")


def test_arrivals_by_rate_and_by_stages() -> None:
    assert ArrivalSchedule(rate=100).offset(250) == pytest.approx(2.5)
    stages = parse_stages('[{"duration_s": 2, "rate": 10}, {"duration": "1s", "rate": 0},'
                          ' {"duration": "500ms", "rate": 40}]')  # fmt: skip
    assert stages == (Stage(2.0, 10.0), Stage(1.0, 0.0), Stage(0.5, 40.0))
    schedule = ArrivalSchedule(stages=stages)
    assert schedule.offset(0) == 0
    assert schedule.offset(19) == pytest.approx(1.9)
    assert schedule.offset(20) == pytest.approx(3.0), "the pause stage sends nobody"
    assert schedule.offset(39) == pytest.approx(3.475)
    assert schedule.offset(40) == pytest.approx(3.5), "after the stages: the last rate goes on"
    assert schedule.offset(80) == pytest.approx(4.5)
    offsets = [schedule.offset(n) for n in range(200)]
    assert offsets == sorted(offsets)
    for bad in ("[{}]", "{", '[{"duration_s": 1, "rate": 0}]', '[{"duration": "soon", "rate": 1}]',
                '[{"duration": 2, "rate": 1}]', '[{"duration": "2", "rate": 1}]',
                '[{"duration_s": "2s", "rate": 1}]', '[{"duration_s": -1, "rate": 1}]'):
        with pytest.raises(ConfigError):
            parse_stages(bad)
    with pytest.raises(ConfigError):
        ArrivalSchedule(rate=0)


def test_tickets_and_leases_hand_out_every_evacuee_exactly_once() -> None:
    local = LocalTickets(5)
    assert [local.take() for _ in range(7)] == [0, 1, 2, 3, 4, None, None]
    for workers in (1, 2, 5):
        desk = LeaseDesk(1003)
        got: list[int] = []
        sizes: list[int] = []
        while True:
            start, stop = desk.lease(100, workers=workers)
            if start == stop:
                break
            got.extend(range(start, stop))
            sizes.append(stop - start)
        assert got == list(range(1003))
        assert max(sizes) <= 100 and sizes[-1] == 1, "leases shrink towards the end"
        assert sizes == sorted(sizes, reverse=True)


def test_ledger_lines_have_exactly_the_contract_fields(tmp_path, wishes) -> None:
    infiltrator = next(w for w in wishes if w.kind == "infiltrator")
    ledger = LedgerFile(tmp_path / "run" / "ledger.jsonl")
    for wish in (wishes[0], infiltrator):
        prefix = ledger_prefix(wish, 'r-"quoted"')
        for attempt, status in ((1, 503), (2, 202)):
            ledger.append(
                ledger_line(prefix, attempt=attempt, status=status, intended_at=1795861333.5,
                            sent_at=1795861333.6, latency_ms=2.25, response_ms=102.5, n=wish.n)
            )  # fmt: skip
    ledger.close()
    lines = list(read_ledger(tmp_path / "run" / "ledger.jsonl"))
    assert len(lines) == 4
    for line in lines:
        assert tuple(line) == FIELDS
        assert line["run_id"] == 'r-"quoted"'
        assert isinstance(line["intended_at"], float) and isinstance(line["latency_ms"], float)
    assert lines[2]["payload"] == infiltrator.payload and lines[0]["payload"] is None
    assert [line["attempt"] for line in lines] == [1, 2, 1, 2]


def test_ledger_errors_are_exodus_errors(tmp_path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExodusError):
        LedgerFile(tmp_path / "file" / "ledger.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"ok": 1}\nnot json\n')
    with pytest.raises(ExodusError):
        list(read_ledger(tmp_path / "bad.jsonl"))


def test_tally_counts_outcomes_and_merges() -> None:
    a, b = SwarmTally(), SwarmTally()
    a.started(0.1)
    a.attempted(3.0)
    a.finished(202, "accept", 5.0)
    b.started(2.5)  # late
    b.attempted(1.0)
    b.attempted(1.0)
    b.finished(422, "reject", 2600.0)
    b.started(0.0)
    b.attempted(1.0)
    b.finished(0, "accept", 30.0)
    total = SwarmTally()
    total.merge(a.to_message())
    total.merge(json.loads(json.dumps(b.to_message())))
    s = total.summary(evacuees=4)
    assert (s["sent"], s["finished"], s["attempts"]) == (3, 3, 4)
    assert (s["acknowledged"], s["rejected"], s["errors"], s["unexpected"]) == (1, 1, 1, 1)
    assert (s["late"], s["dropped"], s["unfinished"]) == (1, 1, 0)
    assert s["response_ms"]["max"] == 2600.0 and s["response_ms"]["p50"] == 30.0
    assert percentile([], 50) is None and percentile([1, 2, 3, 4], 50) == 2


def test_answers_are_judged_by_what_was_expected() -> None:
    assert judge("accept", 202) is None
    assert judge("reject", 422) is None and judge("reject", 413) is None
    assert judge("accept", 422) == "legal wish answered 422"
    assert judge("reject", 202) == "bad input answered 202"
    assert judge("accept", 503) == "HTTP 503" and judge("reject", 500) == "HTTP 500"
    assert judge("accept", 0) == "connection error"
    assert [should_retry(s, 1) for s in (0, 500, 503, 429, 202, 409, 415, 422)] == [
        True, True, True, True, False, False, False, False,
    ]  # fmt: skip
    assert not should_retry(503, 3), "three attempts at most"
    assert retry_delay(1, "0") == 0.0 and retry_delay(1, "120") == 1.0
    assert retry_delay(2, None) == pytest.approx(0.2)
    assert retry_delay(1, "Wed, 21 Oct 2045 07:28:00 GMT") == pytest.approx(0.1)


@pytest.mark.parametrize("run", range(40))
def test_a_short_run_with_infiltrators_always_sends_bad_input(run: int) -> None:
    """GIVEN 120 evacuees, 8% infiltrators (drawn alone, about 1 plan in 25 has no request
    that must be rejected) WHEN planned THEN the probe evacuee sends one, in both planners."""
    plan = SwarmPlan(seed=2045, run_id=f"r-probe-{run}", evacuees=120, infiltrator_share=0.08)
    pools = build_pools(2045, size=50)
    planned = [plan_wish(plan, n, pools) for n in range(120)]
    assert 0 <= plan.probe_n < 120
    probe = planned[plan.probe_n]
    assert (probe.kind, probe.expect) == ("infiltrator", "reject")
    assert [row[7] for row in plan_sends(plan, range(120), pools)] == [w.expect for w in planned]


def test_a_run_not_expected_to_hold_an_infiltrator_gets_no_probe() -> None:
    assert SwarmPlan(seed=1, run_id="r", evacuees=10, infiltrator_share=0.05).probe_n == -1
    assert SwarmPlan(seed=1, run_id="r", evacuees=500, infiltrator_share=0.0).probe_n == -1
