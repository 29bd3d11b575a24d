"""The audit end to end on crafted run folders: verdict.json shape, figures, errors, FMEA."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.audit import audit_run, run_checks, write_verdict
from exodus2045.reports.checks import CHECK_MODULES
from exodus2045.reports.fmea import failure_modes, occurrence
from exodus2045.reports.runfolder import RunData, RunFolderError
from exodus2045.reports.verdict import CheckResult, Verdict, VerdictError

from tests.runfolder_factory import FAULT_CHECK_ID, RETRIED, RUN_ID, make_run_folder, wish_id

ALL_IDS = [
    "exactly-once",
    "no-phantoms",
    "tally",
    "content",
    "bad-input",
    "no-false-rejects",
    "no-executable-markup",
    "drained",
    "dlq-explained",
    "slo",
    FAULT_CHECK_ID,
]


def test_sound_folder_audits_sound(tmp_path: Path):
    verdict = audit_run(make_run_folder(tmp_path))
    assert [c.id for c in verdict.checks] == ALL_IDS
    assert all(c.status == "passed" for c in verdict.checks), [c.summary for c in verdict.failed]
    assert verdict.sound and not verdict.interrupted
    assert (verdict.run_id, verdict.scenario, verdict.seed) == (RUN_ID, "crafted", 2045)


def test_verdict_json_has_the_contract_shape_and_round_trips(tmp_path: Path):
    run_dir = make_run_folder(tmp_path)
    path = write_verdict(run_dir, audit_run(run_dir))
    assert path == run_dir / "verdict.json"
    text = path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert set(data) == {
        "schema_version",
        "run_id",
        "scenario",
        "seed",
        "sound",
        "interrupted",
        "checks",
        "figures",
    }
    for check in data["checks"]:
        assert set(check) == {"id", "status", "passed", "summary", "evidence"}
        assert check["passed"] == (check["status"] == "passed")
    assert Verdict.from_json(data).to_json() == data


def test_figures(tmp_path: Path):
    figures = audit_run(make_run_folder(tmp_path)).figures
    assert figures["counts"] == {
        "evacuees": 20,
        "attempts": 21,
        "acknowledged": 18,
        "rejected": 2,
        "stored": 18,
        "audience": 1,
        "dead_letters": 1,
        "late": 0,
        "dropped": 0,
    }
    assert figures["throughput"] == 1.8 and figures["swarm_s"] == 10.0
    assert set(figures["service_ms"]) == {"p50", "p95", "p99"}
    assert figures["service_ms"]["p99"] == 39.0
    assert figures["response_ms"]["p99"] > figures["service_ms"]["p99"]  # the retry waited
    assert figures["e2e_s"]["p50"] == 0.3


@pytest.mark.parametrize(
    ("knobs", "failing"),
    [
        ({"missing": [4]}, {"exactly-once", "tally"}),
        ({"duplicates": [2]}, {"exactly-once", "tally"}),
        ({"phantoms": 1}, {"no-phantoms", "tally", "content"}),
        ({"tally_off_by": -1}, {"tally"}),
        ({"altered": {6: "Jose Ruiz was here"}}, {"content"}),
        ({"reject_status": 500}, {"bad-input", "slo"}),
        ({"raw_wall": True}, {"no-executable-markup"}),
        ({"html_api": True}, {"no-executable-markup"}),
        ({"undrained": True}, {"drained"}),
        ({"dlq_without_reason": True}, {"dlq-explained"}),
        ({"slow_recovery": True}, {FAULT_CHECK_ID}),
    ],
)
def test_each_breakage_makes_the_run_unsound(knobs: dict, failing: set[str], tmp_path: Path):
    verdict = audit_run(make_run_folder(tmp_path, **knobs))
    assert not verdict.sound
    assert {c.id for c in verdict.failed} == failing


def test_interrupted_run_is_never_sound(tmp_path: Path):
    verdict = audit_run(make_run_folder(tmp_path, interrupted=True))
    assert verdict.interrupted and not verdict.sound and not verdict.failed


def test_http_only_run_skips_what_it_cannot_see(tmp_path: Path):
    run_dir = make_run_folder(
        tmp_path,
        visibility={"store": False, "queues": False},
        omit=["store-snapshot.jsonl", "tally.json", "queues.json"],
    )
    verdict = audit_run(run_dir)
    skipped = {c.id: c.summary for c in verdict.checks if c.status == "skipped"}
    assert set(skipped) == {
        "exactly-once",
        "no-phantoms",
        "tally",
        "content",
        "drained",
        "dlq-explained",
    }
    assert all("visibility" in reason for reason in skipped.values())
    assert verdict.sound  # nothing failed; what it could not see is said, not guessed


def test_corrupt_ledger_line_names_file_and_line(tmp_path: Path):
    run_dir = make_run_folder(tmp_path, corrupt=("ledger.jsonl", 7))
    with pytest.raises(RunFolderError, match=r"ledger\.jsonl line 7: not valid JSON") as err:
        audit_run(run_dir)
    assert isinstance(err.value, ExodusError)


def test_ledger_line_with_wrong_type_names_line(tmp_path: Path):
    def bad_status(files):
        files["ledger.jsonl"][2]["status"] = "202"

    with pytest.raises(RunFolderError, match=r"ledger\.jsonl line 3: status"):
        RunData.load(make_run_folder(tmp_path, mutate=bad_status))


@pytest.mark.parametrize("omit", [["run.json"], ["ledger.jsonl"]])
def test_required_files(omit: list[str], tmp_path: Path):
    with pytest.raises(RunFolderError, match=omit[0]):
        RunData.load(make_run_folder(tmp_path, omit=omit))


def test_run_data_accessors(tmp_path: Path):
    run = RunData.load(make_run_folder(tmp_path, omit=["swarm.json"]))
    retried = run.wishes[wish_id(RETRIED)]
    assert retried.statuses == (503, 202) and retried.acknowledged and retried.n == RETRIED
    assert len(run.ledger) == 21 and len(run.acknowledged()) == 18
    assert (
        run.swarm is None
        and run.why_missing("swarm") == "swarm.json is missing from the run folder"
    )
    assert run.pages is not None and run.pages[0].header("Content-Security-Policy")
    assert run.slo["submit_p95_ms"] == 250 and run.started_at == 1764324900.0


def test_a_crashing_check_is_a_failure_not_a_crash(tmp_path: Path):
    run = RunData.load(make_run_folder(tmp_path))

    def boom(run):
        raise KeyError("surprise")

    ok = types.SimpleNamespace(ID="fine", check=lambda run: CheckResult.ok("fine", "fine"))
    results = run_checks(run, [types.SimpleNamespace(ID="broken", check=boom), ok])
    assert [(r.id, r.status) for r in results] == [("broken", "failed"), ("fine", "passed")]
    assert "KeyError" in results[0].summary


def test_registry_lists_every_check_module():
    assert len(CHECK_MODULES) == len(set(CHECK_MODULES)) == 11


def test_verdict_contract_guards():
    with pytest.raises(VerdictError, match="twice"):
        Verdict.judge("r", "s", 1, False, [CheckResult.ok("a", "x"), CheckResult.ok("a", "y")])
    with pytest.raises(VerdictError, match="say why"):
        CheckResult.skip("a", "")
    with pytest.raises(VerdictError, match="schema_version"):
        Verdict.from_json({"schema_version": 99})
    skipped_only = Verdict.judge("r", "s", 1, False, [CheckResult.skip("a", "no browser")])
    assert skipped_only.sound


def test_fmea_ranks_failures_by_risk(tmp_path: Path):
    run_dir = make_run_folder(tmp_path, missing=[4], raw_wall=True, slo={"error_ratio": 0.01})
    verdict = audit_run(run_dir)
    modes = failure_modes(verdict, RunData.load(run_dir))
    assert [m.rpn for m in modes] == sorted((m.rpn for m in modes), reverse=True)
    by_check = {m.check: m for m in modes}
    assert set(by_check) == {"exactly-once", "tally", "no-executable-markup", "slo", FAULT_CHECK_ID}
    lost = by_check["exactly-once"]
    assert (lost.severity, lost.detection, lost.evidence_count) == (10, 2, 1)
    assert lost.rpn == lost.severity * lost.occurrence * lost.detection
    assert all(1 <= m.rpn <= 1000 for m in modes)
    fault = by_check[FAULT_CHECK_ID]
    assert fault.mode == "fault: kill parser for 2 s" and "1 restarts" in fault.cause


def test_occurrence_scale():
    assert occurrence(0) == 1
    assert occurrence(1 / 65000) == 2
    assert occurrence(0.01) == 5 and occurrence(0.011) == 6
    assert occurrence(1.0) == 10


@pytest.mark.parametrize("name", ["queues.json", "tally.json", "swarm.json"])
def test_json_file_of_the_wrong_shape_is_named(name: str, tmp_path: Path):
    with pytest.raises(RunFolderError, match=f"{name}: expected a JSON object"):
        RunData.load(make_run_folder(tmp_path, mutate=lambda files: files.update({name: []})))
