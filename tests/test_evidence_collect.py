"""The collector writes answers and evidence.json; the audit skips what nobody answered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from exodus2045.reports.audit import run_checks
from exodus2045.reports.checks import dlq_explained, drained, exactly_once, tally
from exodus2045.reports.evidence_index import EvidenceIndex, derive
from exodus2045.reports.runfolder import RunData, RunFolderError
from exodus2045.scenarios.evidence import (
    Evidence,
    EvidenceConfig,
    HttpSourceConfig,
    Question,
    Sampler,
)
from exodus2045.scenarios.evidence.protocol import EvidenceError, SourceBase
from tests.conftest import wait_for
from tests.evidence_fixtures import RUN_ID, FilledStack, filled_stack, serving, write_ledger
from tests.runfolder_factory import make_run_folder


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> Iterator[FilledStack]:
    with filled_stack(tmp_path_factory.mktemp("evidence") / "state") as stack:
        yield stack


UNSTORED = "00000000-0000-4000-8000-00000000abcd"


def _collect(evidence: Evidence, run_dir: Path, stack: FilledStack, acked) -> dict:
    before = evidence.tally_snapshot()
    evidence.collect(run_dir, RUN_ID, since=stack.started, acked_ids=acked,
                     sample_ids=stack.run_ids[:1], tally_before=before)
    write_ledger(run_dir, RUN_ID, acked)
    return json.loads((run_dir / "evidence.json").read_text())["questions"]


def test_with_a_state_dir_every_question_is_answered_and_recorded(tmp_path, filled):
    evidence = Evidence(EvidenceConfig(url=filled.url, state_dir=filled.state.root))
    sampler = Sampler(evidence, tmp_path / "metrics.jsonl", filled.started, period_s=0.05)
    sampler.start()
    wait_for(lambda: sampler.last is not None, what="a first sample")
    sampler.stop()
    try:
        questions = _collect(evidence, tmp_path, filled, list(filled.run_ids))
    finally:
        evidence.close()
    assert evidence.visibility() == {"store": True, "queues": True}
    by = {q: (e.get("source") if e["answered"] else None) for q, e in questions.items()}
    assert by == {"stored-wishes": "state-dir", "audience-wishes": "state-dir",
                  "wish-lookup": None, "tally": "state-dir", "stored-counts": "state-dir",
                  "queue-depths": "state-dir", "backlog": None, "dead-letters": "state-dir",
                  "pages": "http", "restarts": "state-dir"}
    assert "holds every stored row" in questions["wish-lookup"]["reason"]
    assert "not asked during this run" in questions["backlog"]["reason"]
    assert questions["queue-depths"]["files"] == ["queues.json", "metrics.jsonl"]
    assert questions["restarts"]["files"] == ["metrics.jsonl"]
    assert questions["stored-wishes"]["rows"] == 6
    sample = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert sample["stored"] == 7 and sample["restarts"] == 0 and sample["queues"]["wishes"]
    run = RunData.load(tmp_path)
    assert len(run.run_store()) == 6 and len(run.audience or ()) == 1
    assert len(run.queues["dead_letters"]) == 1 and run.pages
    assert run.tally["after"]["stored"] == {"mars": 4, "jupiter": 3}
    assert exactly_once.check(run).status == "passed"


def test_through_http_alone_lookups_are_kept_and_store_checks_skip_with_the_reason(
        tmp_path, filled):
    evidence = Evidence(EvidenceConfig(url=filled.url, http=HttpSourceConfig(metrics_path=None)))
    assert evidence.visibility() == {"store": False, "queues": False}
    assert evidence.backlog() is None
    assert evidence.unstored([filled.run_ids[0], UNSTORED]) == [UNSTORED]
    try:
        questions = _collect(evidence, tmp_path, filled, [*filled.run_ids, UNSTORED])
    finally:
        evidence.close()
    assert not (tmp_path / "store-snapshot.jsonl").exists()
    assert questions["wish-lookup"] == {"answered": True, "source": "http",
                                        "files": ["lookups.jsonl"], "looked_up": 7, "found": 6}
    lookups = [json.loads(x) for x in (tmp_path / "lookups.jsonl").read_text().splitlines()]
    assert [x["found"] for x in lookups] == [True] * 6 + [False] and lookups[-1]["status"] == 404
    assert questions["tally"]["source"] == "http" and not questions["stored-counts"]["answered"]
    assert "not asked" not in questions["backlog"]["reason"]  # the live ask was recorded
    reason = questions["stored-wishes"]["reason"]
    assert reason.startswith("no evidence source answered stored-wishes "
                             "(http: the target has no listing of a run's stored wishes")
    run = RunData.load(tmp_path)
    assert run.store is None and run.tally["after"]["stored"] is None and len(run.lookups) == 7
    checks = {c.id: c for c in run_checks(run)}
    assert checks["no-phantoms"].status == "skipped" and reason in checks["no-phantoms"].summary
    once = checks["exactly-once"]  # lookups prove loss (UNSTORED), never a second row
    assert once.status == "failed" and once.evidence["missing"] == [UNSTORED]
    assert checks["tally"].status != "skipped", checks["tally"]  # lookups + the tally delta
    assert "sent.jsonl is missing" in checks["content"].summary  # this folder has no oracle
    for name in ("drained", "dlq-explained"):
        assert checks[name].status == "skipped"
        assert "no evidence source answered queue-depths" in checks[name].summary
    assert checks["no-executable-markup"].status == "passed"


def test_a_target_that_is_gone_leaves_every_question_unanswered_with_why(tmp_path):
    evidence = Evidence(EvidenceConfig(url="http://127.0.0.1:1"))
    try:
        evidence.collect(tmp_path, RUN_ID, since=0.0, acked_ids=["a"], sample_ids=[],
                         tally_before={"tally": None, "stored": None})
    finally:
        evidence.close()
    questions = json.loads((tmp_path / "evidence.json").read_text())["questions"]
    assert not any(q["answered"] for q in questions.values())
    assert "http failed: ConnectError" in questions["tally"]["reason"]
    assert "not one page could be fetched" in questions["pages"]["reason"]
    assert not (tmp_path / "pages").exists() or not (tmp_path / "pages" / "index.json").exists()


def test_a_wish_found_once_is_not_looked_up_again_and_still_lands_in_lookups(tmp_path):
    with serving() as target:
        evidence = Evidence(EvidenceConfig(url=f"http://127.0.0.1:{target.port}"))
        try:
            assert evidence.unstored(["a", "b"]) == []
            hits = target.hits
            assert evidence.unstored(["a", "b"]) == [] and target.hits == hits
            evidence.collect(tmp_path, RUN_ID, since=0.0, acked_ids=["a", "b"], sample_ids=[],
                             tally_before={"tally": None, "stored": None})
        finally:
            evidence.close()
    questions = json.loads((tmp_path / "evidence.json").read_text())["questions"]
    assert questions["wish-lookup"] == {"answered": True, "source": "http",
                                        "files": ["lookups.jsonl"], "looked_up": 2, "found": 2}
    assert "/api/tally: no {'tally'" in questions["tally"]["reason"]  # a foreign shape
    lookups = (tmp_path / "lookups.jsonl").read_text().splitlines()
    assert [json.loads(x)["wish_id"] for x in lookups] == ["a", "b"]


class _Broken(SourceBase):
    name = "broken"
    ANSWERS = frozenset({Question.TALLY})

    def tally(self) -> dict[str, int]:
        raise EvidenceError("the read timed out")


class _Fine(SourceBase):
    name = "fine"
    ANSWERS = frozenset({Question.TALLY})

    def tally(self) -> dict[str, int]:
        return {"mars": 1}


def test_a_failing_source_is_recorded_and_the_next_one_answers():
    both = Evidence(EvidenceConfig(), [_Broken(), _Fine()])
    assert both.ask(Question.TALLY, lambda s: s.tally()) == {"mars": 1}
    assert both.answers[Question.TALLY].source == "fine"
    alone = Evidence(EvidenceConfig(), [_Broken()])
    assert alone.ask(Question.TALLY, lambda s: s.tally()) is None
    assert alone.answers[Question.TALLY].reason == (
        "no evidence source answered tally (broken failed: EvidenceError: the read timed out)")
    assert alone.ask(Question.PAGES, lambda s: s.pages([])) is None
    assert "broken has no way to answer pages" in alone.answers[Question.PAGES].reason


def _write_index(run_dir: Path, **unanswered: str) -> None:
    index = derive(run_dir, json.loads((run_dir / "run.json").read_text()))
    data = index.to_json()
    for question, reason in unanswered.items():
        data["questions"][question] = {"answered": False, "reason": reason}
    (run_dir / "evidence.json").write_text(json.dumps(data))


def test_a_question_no_source_answered_skips_its_checks_with_the_recorded_reason(tmp_path):
    folder = make_run_folder(tmp_path)
    _write_index(folder, **{"stored-wishes": "the listing route answered 403",
                            "dead-letters": "the DLQ could not be received"})
    run = RunData.load(folder)
    assert run.store is None and run.queues is not None
    for module in (exactly_once, tally):
        result = module.check(run)
        assert result.status == "skipped"
        assert "the listing route answered 403" in result.summary
    letters = dlq_explained.check(run)
    assert letters.status == "skipped" and "the DLQ could not be received" in letters.summary
    assert drained.check(run).status == "passed"  # depths were answered: judged as before


def test_an_old_folder_without_evidence_json_derives_the_index(tmp_path):
    run = RunData.load(make_run_folder(tmp_path / "seen"))
    assert run.evidence.derived
    assert run.evidence.answers[Question.STORED_WISHES].answered
    assert run.unanswered(Question.QUEUE_DEPTHS) is None
    blind = RunData.load(make_run_folder(tmp_path / "blind", visibility={"store": False}))
    assert "visibility.store is false" in blind.unanswered(Question.STORED_WISHES)
    assert blind.store is None and blind.queues is not None


def test_evidence_json_round_trips_and_bad_entries_name_their_key(tmp_path):
    folder = make_run_folder(tmp_path)
    _write_index(folder, pages="no pages here")
    data = json.loads((folder / "evidence.json").read_text())
    data["questions"]["from-the-future"] = {"answered": True, "source": "aws"}
    index = EvidenceIndex.from_json(data)
    assert Question.PAGES in index.answers and index.why_unanswered(Question.PAGES) == (
        "no pages here")
    assert EvidenceIndex.from_json(index.to_json()).to_json() == index.to_json()
    data["questions"]["tally"] = {"answered": "yes"}
    (folder / "evidence.json").write_text(json.dumps(data))
    with pytest.raises(RunFolderError, match="questions.tally needs a boolean 'answered'"):
        RunData.load(folder)


class _Trailing(SourceBase):
    """A tally that catches up with the store one read at a time (a cache, a replica)."""

    ANSWERS = frozenset({Question.TALLY})

    def __init__(self, reads: list[dict[str, int]], may_trail: bool) -> None:
        self.reads, self.tally_may_trail, self.asked = reads, may_trail, 0

    def tally(self) -> dict[str, int]:
        self.asked += 1
        return self.reads[min(self.asked, len(self.reads)) - 1]


@pytest.mark.parametrize("may_trail", [True, False])
def test_a_tally_that_may_trail_is_read_until_it_settles(tmp_path, may_trail):
    """GIVEN a source whose tally moves once more after the first read after the run
    WHEN the run's evidence is collected THEN a source that says its tally may trail is read
    until two reads agree, whatever its name; one that does not is read once."""
    source = _Trailing([{"mars": 0}, {"mars": 2}, {"mars": 3}, {"mars": 3}], may_trail)
    source.name = "team-cache"
    evidence = Evidence(EvidenceConfig(), [source])
    before = evidence.tally_snapshot()
    evidence.collect(tmp_path, RUN_ID, since=0.0, acked_ids=[], sample_ids=[],
                     tally_before=before)
    after = json.loads((tmp_path / "tally.json").read_text())["after"]["tally"]
    assert after == ({"mars": 3} if may_trail else {"mars": 2})
    assert source.asked == (4 if may_trail else 2)
