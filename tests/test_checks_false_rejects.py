"""``no-false-rejects`` on crafted run folders: a 4xx to a valid wish fails, whatever the SLO."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exodus2045.reports.audit import run_checks
from exodus2045.reports.checks import no_false_rejects
from exodus2045.reports.fmea import failure_modes
from exodus2045.reports.runfolder import RunData
from exodus2045.reports.verdict import Verdict
from tests.runfolder_factory import REJECTS, RETRIED, T0, make_run_folder, wish_id


def _answers(statuses: dict[int, list[int]]):
    """A ``mutate`` that replaces wish n's attempts with one line per status, 0.3 s apart."""

    def mutate(files: dict[str, Any]) -> None:
        ledger = files["ledger.jsonl"]
        for n, answers in statuses.items():
            first = next(line for line in ledger if line["n"] == n)
            ledger[:] = [line for line in ledger if line["n"] != n]
            for i, status in enumerate(answers, start=1):
                ledger.append({**first, "attempt": i, "status": status,
                               "sent_at": first["intended_at"] + 0.3 * (i - 1)})

    return mutate


def judge(tmp_path: Path, statuses: dict[int, list[int]] | None = None, **knobs):
    folder = make_run_folder(tmp_path, mutate=_answers(statuses or {}), **knobs)
    return no_false_rejects.check(RunData.load(folder))


def test_sound_folder_passes_and_a_retried_503_is_no_reject(tmp_path: Path):
    result = judge(tmp_path)
    assert result.status == "passed", result.summary
    assert result.evidence["valid"] == 20 - len(REJECTS) == result.evidence["acknowledged"]
    assert result.evidence["false_rejects_total"] == 0 == result.evidence["unacknowledged_total"]
    assert RETRIED not in REJECTS  # n=3 got 503 then 202: acknowledged, not refused


def test_a_415_to_a_valid_wish_fails_with_id_status_and_time(tmp_path: Path):
    result = judge(tmp_path, {6: [415]}, slo={"error_ratio": 0.5})  # inside a lax SLO
    assert result.status == "failed"
    [row] = result.evidence["false_rejects"]
    assert row["wish_id"] == wish_id(6) and row["statuses"] == [415]
    assert row["sent_s"] == [pytest.approx(3.0)]  # n=6 is due 3 s after the run started
    assert result.evidence["refused_by_status"] == {"415": 1}
    assert "1 of 18 valid wishes were refused (1 x 415)" in result.summary
    assert "t=3.0s" in result.summary


@pytest.mark.parametrize("status", [400, 409, 413, 415, 422])
def test_any_4xx_but_429_is_a_false_reject(tmp_path: Path, status: int):
    result = judge(tmp_path, {7: [status]})
    assert result.status == "failed" and result.evidence["false_rejects_total"] == 1


def test_a_4xx_after_a_retry_still_counts(tmp_path: Path):
    result = judge(tmp_path, {2: [503, 422]})
    assert result.status == "failed"
    assert result.evidence["false_rejects"][0]["statuses"] == [503, 422]


@pytest.mark.parametrize(
    "answers", [[0, 0, 0], [503, 503, 503], [429, 429, 429], [0, 503, 500], [0]],
    ids=["connection-errors", "503s", "429s", "mixed", "run-ended-first"],
)  # fmt: skip
def test_exhausted_retries_are_unacknowledged_not_false_rejects(tmp_path: Path, answers):
    result = judge(tmp_path, {1: answers, 12: [0, 0, 0]})
    assert result.status == "passed", result.summary
    assert result.evidence["false_rejects_total"] == 0
    assert result.evidence["unacknowledged_total"] == 2
    assert {r["wish_id"] for r in result.evidence["unacknowledged"]} == {wish_id(1), wish_id(12)}
    assert "2 unacknowledged" in result.summary


def test_expected_rejections_are_not_its_business(tmp_path: Path):
    """Bad input (n=8, n=15) answered 400/422 is bad-input's to judge; here it is ignored."""
    result = judge(tmp_path, reject_status=415)
    assert result.status == "passed" and result.evidence["valid"] == 18


def test_skipped_when_nothing_was_meant_to_be_accepted(tmp_path: Path):
    def only_rejects(files: dict[str, Any]) -> None:
        files["ledger.jsonl"][:] = [ln for ln in files["ledger.jsonl"] if ln["expect"] == "reject"]

    result = no_false_rejects.check(RunData.load(make_run_folder(tmp_path, mutate=only_rejects)))
    assert result.status == "skipped" and "no wish planned to be accepted" in result.summary


def test_evidence_is_capped_and_the_count_stays_true(tmp_path: Path):
    refused = {n: [415] for n in range(20) if n not in REJECTS}
    result = judge(tmp_path, refused)
    assert result.evidence["false_rejects_total"] == 18
    assert len(result.evidence["false_rejects"]) <= 50


def test_in_the_audit_and_ranked_by_its_false_rejects_only(tmp_path: Path):
    folder = make_run_folder(tmp_path, mutate=_answers({6: [415], 7: [0, 0, 0]}))
    run = RunData.load(folder)
    verdict = Verdict.judge(run.run_id, run.scenario_name, run.seed, False, run_checks(run))
    assert verdict.check("no-false-rejects").failed and not verdict.sound
    [mode] = [m for m in failure_modes(verdict, run) if m.check == "no-false-rejects"]
    assert mode.evidence_count == 1 and mode.mode == "valid wish refused with a 4xx"
    assert run.started_at == T0
