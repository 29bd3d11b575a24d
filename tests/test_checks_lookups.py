"""Store-side checks over HTTP evidence only: lookups, and the tally without row counts.

A ``--target`` run without a listing has ``lookups.jsonl`` (one row at most per acknowledged
wish) and ``tally.json`` without stored counts. Loss, content and the tally are judged from
those; duplicates and phantoms are not, and say why.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exodus2045.reports.checks import content, exactly_once, no_phantoms, tally
from exodus2045.reports.runfolder import RunData
from tests.runfolder_factory import make_run_folder, wish_id


def http_only(quiet: bool = True):
    """Turn the crafted folder into what an HTTP source without a listing leaves behind."""

    def mutate(files: dict[str, Any]) -> None:
        rows = {w["wish_id"]: w for w in files["store-snapshot.jsonl"] if w.get("run_id")}
        acked = sorted({a["wish_id"] for a in files["ledger.jsonl"] if a["status"] == 202})
        files["lookups.jsonl"] = [
            {"wish_id": i, "found": i in rows, "status": 200 if i in rows else 404,
             "wish": rows.get(i)} for i in acked]
        files["tally.json"]["before"]["stored"] = None
        files["tally.json"]["after"]["stored"] = None
        if quiet:  # nobody else posted during the run
            files["tally.json"]["after"]["tally"]["mars"] -= 1
    return mutate


def judge(module, tmp_path: Path, quiet: bool = True, **knobs):
    folder = make_run_folder(tmp_path, omit=["store-snapshot.jsonl"],
                             mutate=http_only(quiet), **knobs)
    return module.check(RunData.load(folder))


def test_content_and_tally_pass_by_lookup_and_duplicates_are_not_claimed(tmp_path: Path):
    assert judge(content, tmp_path / "c").status == "passed"
    assert judge(content, tmp_path / "c2").evidence["rows_from"] == "rows found by lookup"
    result = judge(tally, tmp_path / "t")
    assert result.status == "passed", result.summary
    assert "quiet target" in result.evidence["attribution"]
    once = judge(exactly_once, tmp_path / "e")
    assert once.status == "skipped" and "cannot see a second row" in once.summary
    assert judge(no_phantoms, tmp_path / "p").status == "skipped"


def test_lookup_catches_a_lost_wish(tmp_path: Path):
    result = judge(exactly_once, tmp_path, missing=[7])
    assert result.status == "failed" and result.evidence["missing"] == [wish_id(7)]
    assert "by lookup" in result.summary


def test_lookup_catches_altered_content(tmp_path: Path):
    result = judge(content, tmp_path, altered={2: "PLANT A TREE FOR ME, NUMBER 2."})
    assert result.status == "failed"
    assert result.evidence["mismatches"][0]["wish_id"] == wish_id(2)


def test_tally_moved_by_more_than_was_acknowledged_fails(tmp_path: Path):
    result = judge(tally, tmp_path, tally_off_by=1)
    assert result.status == "failed"
    assert result.evidence["tally_vs_ledger"]["mars"]["tally_delta"] == \
        result.evidence["tally_vs_ledger"]["mars"]["acknowledged"] + 1


def test_other_traffic_shows_in_the_tally_and_the_evidence_says_so(tmp_path: Path):
    result = judge(tally, tmp_path, quiet=False)  # the audience posted one wish to mars
    assert result.status == "failed" and "mars" in result.evidence["tally_vs_ledger"]
    assert "another client's traffic" in result.evidence["attribution"]
