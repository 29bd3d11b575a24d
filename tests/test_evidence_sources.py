"""Each evidence source against a real stack: what it answers, and why it refuses the rest."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from exodus2045.scenarios.evidence import HttpSource, HttpSourceConfig, Question, StateDirSource
from exodus2045.scenarios.evidence.protocol import EvidenceError
from tests.evidence_fixtures import (
    POISON,
    RUN_ID,
    CountingServer,
    FilledStack,
    filled_stack,
    serving,
)


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Iterator[FilledStack]:
    with filled_stack(tmp_path_factory.mktemp("evidence") / "state") as stack:
        yield stack



@pytest.fixture
def statedir_source(filled: FilledStack) -> Iterator[StateDirSource]:
    source = StateDirSource(filled.state)
    yield source
    source.close()


@pytest.fixture
def http_source(filled: FilledStack) -> Iterator[HttpSource]:
    source = HttpSource(filled.url)
    yield source
    source.close()


def test_state_dir_source_sees_rows_queues_and_dead_letters(statedir_source, filled):
    rows = list(statedir_source.stored_wishes(RUN_ID))
    assert [r["wish_id"] for r in rows] == list(filled.run_ids)
    assert all(r["run_id"] == RUN_ID and r["source"] == "swarm" for r in rows)
    audience = list(statedir_source.audience_wishes(filled.started))
    assert [w["wish_id"] for w in audience] == [filled.audience_id]
    assert list(statedir_source.audience_wishes(time.time() + 60)) == []
    assert statedir_source.tally() == statedir_source.stored_counts() == {"mars": 4, "jupiter": 3}
    assert statedir_source.backlog() == 0
    depths = statedir_source.queue_depths()
    assert depths["wishes"] == {"visible": 0, "in_flight": 0, "dlq": 1}
    assert set(depths) == {"wishes", "parsed"}
    (letter,) = statedir_source.dead_letters()
    assert letter["queue"] == "wishes" and letter["body"] == POISON and letter["reason"]
    assert statedir_source.restarts() == 0
    found, missing = statedir_source.lookup([filled.run_ids[0], "no-such-wish"])
    assert found.found and found.wish["wish_id"] == filled.run_ids[0]
    assert not missing.found and missing.wish is None


def test_state_dir_source_refuses_pages_with_a_reason(statedir_source):
    assert statedir_source.cannot_answer(Question.STORED_WISHES) is None
    why = statedir_source.cannot_answer(Question.PAGES)
    assert why and "pages" in why
    with pytest.raises(EvidenceError, match="state-dir cannot answer pages"):
        statedir_source.pages([])


def test_http_source_looks_up_reads_the_tally_and_fetches_pages(http_source, filled):
    wanted = [*filled.run_ids[:3], "00000000-0000-4000-8000-000000000000"]
    lookups = http_source.lookup(wanted)
    assert [x.wish_id for x in lookups] == wanted
    assert [x.found for x in lookups] == [True, True, True, False]
    assert [x.status for x in lookups] == [200, 200, 200, 404]
    assert lookups[0].wish["message"] == "Keep the <b>lights</b> on, number 0"
    assert http_source.tally() == {"mars": 4, "jupiter": 3}
    pages = http_source.pages(filled.run_ids[:2])
    urls = [p.url for p in pages]
    assert "/wall?limit=200" in urls and "/message" not in urls  # 404 without html-api
    assert urls[-2:] == [f"/api/wishes/{i}" for i in filled.run_ids[:2]]
    wall = pages[urls.index("/wall?limit=200")]
    assert wall.status == 200 and "html" in wall.content_type
    assert b"&lt;b&gt;lights&lt;/b&gt;" in wall.body
    assert "content-security-policy" in wall.headers


@pytest.mark.parametrize("question", [Question.STORED_WISHES, Question.DEAD_LETTERS,
                                      Question.STORED_COUNTS])
def test_http_source_says_why_it_cannot_answer(http_source, question):
    why = http_source.cannot_answer(question)
    assert why and ("listing" in why or "presenter-only" in why or "counters" in why)
    for able in (Question.WISH_LOOKUP, Question.TALLY, Question.PAGES):
        assert http_source.cannot_answer(able) is None


@pytest.fixture
def counting_server(request) -> Iterator[CountingServer]:
    with serving(busy_first=getattr(request, "param", False)) as server:
        yield server


def test_http_lookups_are_bounded_in_concurrency_and_rate(counting_server):
    url = f"http://127.0.0.1:{counting_server.port}"
    source = HttpSource(url, HttpSourceConfig(concurrency=3, rate_per_s=40.0))
    ids = [f"w{i}" for i in range(20)]
    try:
        started = time.monotonic()
        lookups = source.lookup(ids)
        elapsed = time.monotonic() - started
    finally:
        source.close()
    assert all(x.found for x in lookups) and [x.wish_id for x in lookups] == ids
    assert counting_server.most <= 3
    assert elapsed >= 19 / 40.0 * 0.95  # 20 starts, at least 1/40 s apart


@pytest.mark.parametrize("counting_server", [True], indirect=True)
def test_http_lookup_retries_a_busy_answer_then_reports_what_it_got(counting_server):
    url = f"http://127.0.0.1:{counting_server.port}"
    retrying = HttpSource(url, HttpSourceConfig(attempts=2))
    once = HttpSource(url, HttpSourceConfig(attempts=1))
    try:
        (found,) = retrying.lookup(["retried"])
        (busy,) = once.lookup(["not-retried"])
    finally:
        retrying.close()
        once.close()
    assert found.found and found.status == 200 and found.wish == {"wish_id": "retried"}
    assert not busy.found and busy.status == 503  # not "missing": the status says why


def test_http_source_reads_queue_depths_from_the_metrics_gauges(filled):
    source = HttpSource(filled.url)
    try:
        depths = source.queue_depths()
        assert set(depths) >= {"wishes", "parsed"}
        assert set(depths["wishes"]) == {"visible", "in_flight", "dlq"}
        assert source.backlog() == sum(d["visible"] + d["in_flight"] for d in depths.values())
    finally:
        source.close()
    blind = HttpSource(filled.url, HttpSourceConfig(metrics_path=None))
    try:
        assert "queues" in (blind.cannot_answer(Question.QUEUE_DEPTHS) or "")
        with pytest.raises(EvidenceError):
            blind.backlog()
    finally:
        blind.close()
    wrong = HttpSource(filled.url, HttpSourceConfig(metrics_path="/healthz"))
    try:
        with pytest.raises(EvidenceError, match="no exodus_queue_depth gauges"):
            wrong.queue_depths()
    finally:
        wrong.close()
