"""The audit end to end on crafted run folders: verdict.json shape, figures, errors, FMEA."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pytest

from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.audit import audit_run, run_checks
from exodus2045.reports.checks import CHECK_MODULES, registered_ids
from exodus2045.reports.fmea import failure_modes, occurrence
from exodus2045.reports.runfolder import RunData, RunFolderError
from exodus2045.reports.verdict import CORE_CHECKS, CheckResult, Verdict, VerdictError
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
    assert (verdict.outcome, verdict.complete, verdict.unjudged) == ("sound", True, ())
    assert (verdict.headline, verdict.exit_code) == ("SOUND", 0)
    assert (verdict.run_id, verdict.scenario, verdict.seed) == (RUN_ID, "crafted", 2045)


def test_verdict_json_has_the_contract_shape_and_round_trips(tmp_path: Path):
    run_dir = make_run_folder(tmp_path)
    path = audit_run(run_dir).save(run_dir)
    assert path == run_dir / "verdict.json"
    text = path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert set(data) == {
        "schema_version",
        "run_id",
        "scenario",
        "seed",
        "outcome",
        "sound",
        "complete",
        "unjudged",
        "allow_partial",
        "error",
        "checks",
        "figures",
    }
    assert (data["schema_version"], data["outcome"], data["sound"]) == (2, "sound", True)
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
    assert not verdict.sound and (verdict.outcome, verdict.exit_code) == ("unsound", 1)
    assert {c.id for c in verdict.failed} == failing


def test_interrupted_run_is_never_sound(tmp_path: Path):
    verdict = audit_run(make_run_folder(tmp_path, interrupted=True))
    assert verdict.interrupted and not verdict.sound and not verdict.failed
    assert (verdict.outcome, verdict.headline, verdict.exit_code) == ("interrupted", "INTERRUPTED", 2)


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
    # Nothing failed, but whether data was lost was never judged: not sound, exit 1.
    assert not verdict.sound and not verdict.failed
    assert (verdict.outcome, verdict.headline, verdict.exit_code) == ("unproven", "UNPROVEN", 1)
    assert set(verdict.unjudged) == set(skipped)


def test_allow_partial_from_run_json_exits_0_as_partial_and_stays_not_sound(tmp_path: Path):
    def allow(files):
        files["run.json"]["allow_partial"] = True

    run_dir = make_run_folder(tmp_path, visibility={"store": False}, mutate=allow,
                              omit=["store-snapshot.jsonl", "tally.json"])
    verdict = audit_run(run_dir)
    assert (verdict.outcome, verdict.sound, verdict.allow_partial) == ("unproven", False, True)
    assert (verdict.headline, verdict.exit_code) == ("PARTIAL", 0)
    assert Verdict.load(verdict.save(run_dir).parent) == verdict


def test_allow_partial_does_not_soften_a_failure(tmp_path: Path):
    def allow(files):
        files["run.json"]["allow_partial"] = True

    verdict = audit_run(make_run_folder(tmp_path, missing=[4], mutate=allow))
    assert (verdict.outcome, verdict.headline, verdict.exit_code) == ("unsound", "UNSOUND", 1)


@pytest.mark.parametrize(
    ("swarm", "complete"),
    [({"complete": False}, False), ({"complete": True}, True), ({}, True)],
)
def test_a_swarm_that_ended_early_leaves_the_run_unproven(
    tmp_path: Path, swarm: dict, complete: bool
):
    def edit(files):
        files["swarm.json"].update(swarm)

    verdict = audit_run(make_run_folder(tmp_path, mutate=edit))
    assert verdict.complete is complete and not verdict.failed
    assert verdict.outcome == ("sound" if complete else "unproven")


def test_without_swarm_json_completeness_comes_from_the_ledger(tmp_path: Path):
    def fewer(files):
        files["run.json"]["scenario"]["load"]["evacuees"] += 1  # one planned, never sent

    assert audit_run(make_run_folder(tmp_path / "a", omit=["swarm.json"])).complete
    late = audit_run(make_run_folder(tmp_path / "b", omit=["swarm.json"], mutate=fewer))
    assert not late.complete and late.outcome == "unproven"


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
    assert len(CHECK_MODULES) == len(set(CHECK_MODULES)) == len(registered_ids()) == 11
    assert set(CORE_CHECKS) <= registered_ids()  # every core check is registered


def test_verdict_contract_guards():
    with pytest.raises(VerdictError, match="twice"):
        Verdict.judge("r", "s", 1, False, [CheckResult.ok("a", "x"), CheckResult.ok("a", "y")])
    with pytest.raises(VerdictError, match="say why"):
        CheckResult.skip("a", "")
    with pytest.raises(VerdictError, match="schema_version"):
        Verdict.from_json({"schema_version": 99})
    # A skipped check that is not core (the browser oracle) does not make a run unproven...
    skipped_only = Verdict.judge("r", "s", 1, False, [CheckResult.skip("a", "no browser")],
                                 registry=())
    assert skipped_only.sound
    # ...but by default the registry's core checks are expected, and here none was judged.
    unproven = Verdict.judge("r", "s", 1, False, [CheckResult.skip("a", "no browser")])
    assert unproven.outcome == "unproven"
    assert set(unproven.unjudged) == set(CORE_CHECKS) & registered_ids()
    with pytest.raises(VerdictError, match="a sound verdict"):
        Verdict(2, "r", "s", 1, "sound", (CheckResult.fail("tally", "off"),))
    with pytest.raises(VerdictError, match="outcome 'fine'"):
        Verdict(2, "r", "s", 1, "fine", ())


def _core(status: str = "passed", leave_out: str | None = None) -> list[CheckResult]:
    return [CheckResult(cid, status, "why") for cid in CORE_CHECKS if cid != leave_out]


@pytest.mark.parametrize(
    ("checks", "registry", "unjudged"),
    [
        (_core(), CORE_CHECKS, ()),
        # absent, and this audit runs it: not judged
        (_core(leave_out="content"), CORE_CHECKS, ("content",)),
        # absent, and no registered module provides it: not asked for
        (_core(leave_out="no-false-rejects"), set(CORE_CHECKS) - {"no-false-rejects"}, ()),
        # skipped: not judged, whatever the registry says
        ([*_core(leave_out="tally"), CheckResult.skip("tally", "no store")], (), ("tally",)),
        # a non-core check skipped or absent never matters
        ([*_core(), CheckResult.skip("browser-oracle", "no browser")], CORE_CHECKS, ()),
    ],
)
def test_a_core_check_is_not_judged_when_skipped_or_absent_from_a_registry_that_runs_it(
    checks: list[CheckResult], registry, unjudged: tuple[str, ...]
):
    verdict = Verdict.judge("r", "s", 1, False, checks, registry=registry)
    assert verdict.unjudged == unjudged
    assert verdict.outcome == ("unproven" if unjudged else "sound")


@pytest.mark.parametrize(
    ("kw", "checks", "outcome"),
    [
        ({}, _core(), "sound"),
        ({}, [*_core(), CheckResult.fail("slo", "slow")], "unsound"),
        ({}, [*_core(leave_out="content"), CheckResult.skip("content", "x")], "unproven"),
        ({"complete": False}, _core(), "unproven"),
        ({"complete": False}, [*_core(), CheckResult.fail("slo", "slow")], "unsound"),
        ({"interrupted": True}, [*_core(), CheckResult.fail("slo", "slow")], "interrupted"),
        ({"error": "no ledger"}, [], "error"),
        ({"error": "no ledger", "interrupted": True}, _core(), "error"),
    ],
)
def test_the_outcome_rule_most_severe_first(kw: dict, checks: list[CheckResult], outcome: str):
    interrupted = kw.pop("interrupted", False)
    verdict = Verdict.judge("r", "s", 1, interrupted, checks, registry=CORE_CHECKS, **kw)
    assert verdict.outcome == outcome and verdict.sound is (outcome == "sound")
    assert Verdict.from_json(json.loads(verdict.dumps())) == verdict


def test_a_version_1_verdict_is_read_with_its_outcome_derived():
    v1 = {"schema_version": 1, "run_id": "r", "scenario": "s", "seed": 1, "sound": True,
          "interrupted": False, "figures": {},
          "checks": [c.to_json() for c in _core(leave_out="content")]
          + [CheckResult.skip("content", "no store").to_json()]}
    verdict = Verdict.from_json(v1)
    assert (verdict.schema_version, verdict.outcome, verdict.sound) == (2, "unproven", False)
    assert verdict.unjudged == ("content",)
    stopped = Verdict.from_json({**v1, "sound": False, "interrupted": True})
    assert (stopped.outcome, stopped.complete, stopped.exit_code) == ("interrupted", False, 2)


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
