"""Store-side checks on crafted run folders: sound passes, each breakage fails, no input skips."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from exodus2045.locustfiles import generate
from exodus2045.reports.checks import bad_input, content, exactly_once, no_phantoms, tally
from exodus2045.reports.runfolder import RunData
from tests.runfolder_factory import (
    ACCEPTED_INFILTRATORS,
    REJECTS,
    make_run_folder,
    marker,
    wish_id,
)


def judge(module, tmp_path: Path, **knobs):
    return module.check(RunData.load(make_run_folder(tmp_path, **knobs)))


@pytest.mark.parametrize("module", [exactly_once, no_phantoms, tally, content, bad_input])
def test_sound_folder_passes(module, tmp_path: Path):
    result = judge(module, tmp_path)
    assert result.status == "passed", result.summary
    assert result.id == module.ID


@pytest.mark.parametrize("module", [exactly_once, no_phantoms, tally, content])
def test_skipped_with_reason_without_store(module, tmp_path: Path):
    result = judge(module, tmp_path, omit=["store-snapshot.jsonl"])
    assert result.status == "skipped"
    assert "store-snapshot.jsonl is missing" in result.summary


def test_skipped_when_run_could_not_see_the_store(tmp_path: Path):
    result = judge(exactly_once, tmp_path, visibility={"store": False})
    assert result.status == "skipped" and "visibility.store is false" in result.summary


def test_exactly_once_names_missing_wish(tmp_path: Path):
    result = judge(exactly_once, tmp_path, missing=[7])
    assert result.status == "failed"
    assert result.evidence["missing"] == [wish_id(7)] and result.evidence["missing_total"] == 1


def test_exactly_once_names_duplicate_and_its_marker(tmp_path: Path):
    result = judge(exactly_once, tmp_path, duplicates=[ACCEPTED_INFILTRATORS[0]])
    assert result.status == "failed"
    assert result.evidence["duplicated"] == [
        {"wish_id": wish_id(ACCEPTED_INFILTRATORS[0]), "rows": 2}
    ]
    assert result.evidence["markers"] == [marker(ACCEPTED_INFILTRATORS[0])]


def test_no_phantoms_catches_unsent_wish(tmp_path: Path):
    result = judge(no_phantoms, tmp_path, phantoms=2)
    assert result.status == "failed"
    assert result.evidence["phantoms_total"] == 2
    assert result.evidence["phantoms"][0]["ledger"] == "never sent"


def test_no_phantoms_catches_stored_wish_that_never_got_202(tmp_path: Path):
    result = judge(no_phantoms, tmp_path, reject_status=500, store_reject=True)
    assert result.status == "failed"
    assert result.evidence["phantoms"] == [
        {"wish_id": wish_id(REJECTS[0]), "ledger": "statuses 500", "payload": marker(REJECTS[0])}
    ]


def test_tally_off_by_one(tmp_path: Path):
    result = judge(tally, tmp_path, tally_off_by=1)
    assert result.status == "failed"
    assert result.evidence["counter_vs_rows"] == {"mars": {"tally_delta": 14, "stored_delta": 13}}


def test_tally_catches_stored_not_matching_ledger(tmp_path: Path):
    result = judge(tally, tmp_path, missing=[0])
    assert result.status == "failed"
    assert result.evidence["rows_vs_ledger"] == {"mars": {"stored": 11, "acknowledged": 12}}


def test_tally_skipped_without_tally_file(tmp_path: Path):
    result = judge(tally, tmp_path, omit=["tally.json"])
    assert result.status == "skipped" and "tally.json" in result.summary


def test_content_normalises_before_comparing(tmp_path: Path):
    # the crafted folder sends NFD text, a control character, padded names and "Mars"
    result = judge(content, tmp_path)
    assert result.status == "passed" and result.evidence["compared"] == 18


def test_content_catches_altered_text(tmp_path: Path):
    result = judge(content, tmp_path, altered={2: "PLANT A TREE FOR ME, NUMBER 2."})
    assert result.status == "failed"
    [mismatch] = result.evidence["mismatches"]
    assert mismatch["wish_id"] == wish_id(2) and mismatch["field"] == "message"


def test_content_catches_stripped_markup(tmp_path: Path):
    result = judge(content, tmp_path, strip_markup=True)
    assert result.status == "failed"
    assert set(result.evidence["markers"]) == {marker(n) for n in ACCEPTED_INFILTRATORS}


def test_content_catches_wrong_markup_flag(tmp_path: Path):
    result = judge(content, tmp_path, wrong_markup_flag=True)
    assert result.status == "failed"
    [mismatch] = result.evidence["mismatches"]
    assert mismatch["field"] == "markup" and mismatch["expected"] is True


def _fake_planner(ids_ok: bool) -> types.ModuleType:
    """A stand-in for locustfiles.generate that replans from the crafted sent records."""
    from tests.runfolder_factory import _sent

    module = types.ModuleType("exodus2045.locustfiles.generate")

    class SwarmPlan:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    def plan_wish(plan, n, pools):
        sent = _sent(n)
        body = {k: sent[k] for k in ("evacuee", "destination", "message")}
        return types.SimpleNamespace(wish_id=sent["wish_id"] if ids_ok else "other", body=body)

    module.SwarmPlan, module.build_pools, module.plan_wish = SwarmPlan, lambda seed: None, plan_wish
    return module


def test_content_regenerates_when_sent_jsonl_missing(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "exodus2045.locustfiles.generate", _fake_planner(ids_ok=True))
    result = judge(content, tmp_path, omit=["sent.jsonl"])
    assert result.status == "passed" and result.evidence["source"] == "regenerated from the seed"


def test_content_links_plan_and_ledger_by_n_not_by_wish_id(tmp_path: Path, monkeypatch):
    """Swarm wish ids come from a secret the audit never sees: a re-planned id differs from
    the ledger's, and the content is still judged (bodies come from the seed, by n)."""
    monkeypatch.setitem(sys.modules, "exodus2045.locustfiles.generate", _fake_planner(ids_ok=False))
    result = judge(content, tmp_path, omit=["sent.jsonl"])
    assert result.status == "passed", result.summary


def test_content_skipped_when_planner_absent(tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "exodus2045.locustfiles.generate", None)  # import raises ImportError
    result = judge(content, tmp_path, omit=["sent.jsonl"])
    assert result.status == "skipped" and "sent.jsonl is missing" in result.summary


@pytest.mark.parametrize("status", [202, 500, 0])
def test_bad_input_catches_non_4xx_answer(status: int, tmp_path: Path):
    result = judge(bad_input, tmp_path, reject_status=status)
    assert result.status == "failed"
    assert result.evidence["answered_wrong"][0]["statuses"] == [status]
    assert marker(REJECTS[0]) in result.evidence["markers"]


@pytest.mark.parametrize(
    ("answers", "good"),
    [([0, 422], True), ([0, 0, 400], True), ([0, 0, 0], False), ([422, 0], False),
     ([503, 422], False), ([0, 202], False)],
)  # fmt: skip
def test_bad_input_forgives_a_connection_error_only_when_a_4xx_followed(
    tmp_path: Path, answers: list[int], good: bool
):
    """A kill mid-request says nothing about the input; a retry that gets the 4xx proves it."""

    def retried(files):
        ledger = files["ledger.jsonl"]
        first = next(a for a in ledger if a["n"] == REJECTS[0])
        ledger[:] = [a for a in ledger if a["n"] != REJECTS[0]]
        ledger += [{**first, "attempt": i, "status": s} for i, s in enumerate(answers, 1)]

    result = judge(bad_input, tmp_path, mutate=retried)
    assert result.status == ("passed" if good else "failed"), result.summary


def test_bad_input_catches_stored_reject_by_id(tmp_path: Path):
    result = judge(bad_input, tmp_path, store_reject=True)
    assert result.status == "failed"
    assert result.evidence["stored"] == [
        {"wish_id": wish_id(REJECTS[0]), "markers": [marker(REJECTS[0])]}
    ]


def test_bad_input_catches_stored_reject_by_marker(tmp_path: Path):
    result = judge(bad_input, tmp_path, reject_marker_elsewhere=True)
    assert result.status == "failed"
    assert result.evidence["stored"][0]["markers"] == [marker(REJECTS[1])]


def test_bad_input_judges_answers_without_store(tmp_path: Path):
    result = judge(bad_input, tmp_path, omit=["store-snapshot.jsonl"])
    assert result.status == "passed"
    assert result.evidence["store_judged"] is False and "not judged" in result.summary


def test_bad_input_skipped_without_planned_rejects(tmp_path: Path):
    def no_rejects(files):
        files["ledger.jsonl"] = [a for a in files["ledger.jsonl"] if a["expect"] != "reject"]

    result = judge(bad_input, tmp_path, mutate=no_rejects)
    assert result.status == "skipped" and "no wish planned to be rejected" in result.summary


def test_regenerate_sent_speaks_the_real_planner(tmp_path: Path):
    from tests.runfolder_factory import RUN_ID, WISHES

    plan = generate.SwarmPlan(
        seed=2045, run_id=RUN_ID, evacuees=WISHES, mars_share=0.6, infiltrator_share=0.2
    )
    pools = generate.build_pools(2045)
    planned = [generate.plan_wish(plan, n, pools) for n in range(WISHES)]

    def planned_ids(files):
        for line in files["ledger.jsonl"]:
            line["wish_id"] = planned[line["n"]].wish_id

    run = RunData.load(make_run_folder(tmp_path, mutate=planned_ids, omit=["sent.jsonl"]))
    sent = content.regenerate_sent(run, [p.wish_id for p in planned])
    for p in planned:
        body = p.body if isinstance(p.body, dict) else {}
        assert sent[p.wish_id]["message"] == body.get("message")
    assert len(sent) == WISHES


def test_content_says_when_only_normalisation_differs(tmp_path: Path):
    result = judge(content, tmp_path, altered={9: "Cafe\u0301 at the end of the world"})
    assert result.status == "failed"
    assert result.evidence["mismatches"][0]["note"] == "stored text is not NFC-normalised"
