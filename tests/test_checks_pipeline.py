"""Pages, queues, SLO and recovery checks on crafted run folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from exodus2045.reports.checks import dlq_explained, drained, no_executable_markup, recovery, slo
from exodus2045.reports.runfolder import RunData
from tests.runfolder_factory import (
    ACCEPTED_INFILTRATORS,
    FAULT_CHECK_ID,
    make_run_folder,
    marker,
    wish_id,
)


def load(tmp_path: Path, **knobs) -> RunData:
    return RunData.load(make_run_folder(tmp_path, **knobs))


@pytest.mark.parametrize("module", [no_executable_markup, drained, dlq_explained, slo])
def test_sound_folder_passes(module, tmp_path: Path):
    result = module.check(load(tmp_path))
    assert result.status == "passed", result.summary


# -- no-executable-markup ----------------------------------------------------------------
def test_raw_wall_fails_naming_page_and_markers(tmp_path: Path):
    result = no_executable_markup.check(load(tmp_path, raw_wall=True))
    assert result.status == "failed"
    assert {f["page"] for f in result.evidence["findings"]} == {"/wall?limit=200"}
    assert set(result.evidence["markers"]) == {marker(n) for n in ACCEPTED_INFILTRATORS}


def test_raw_img_onerror_on_wall_fails(tmp_path: Path):
    result = no_executable_markup.check(
        load(tmp_path, wall_extra="<img src=x onerror=alert('XM12345678')>")
    )
    assert result.status == "failed"
    [finding] = result.evidence["findings"]
    assert finding["kind"] == "event-handler" and finding["markers"] == ["XM12345678"]
    assert finding["element"].startswith("<img")


def test_json_page_served_as_html_fails(tmp_path: Path):
    result = no_executable_markup.check(load(tmp_path, html_api=True))
    assert result.status == "failed"
    kinds = {(f["kind"], f["page"]) for f in result.evidence["findings"]}
    api_page = f"/api/wishes/{wish_id(ACCEPTED_INFILTRATORS[0])}"
    assert ("json-content-type", api_page) in kinds
    assert ("event-handler", api_page) in kinds  # and the browser would indeed run it


def test_page_without_csp_fails(tmp_path: Path):
    result = no_executable_markup.check(load(tmp_path, no_csp=True))
    assert result.status == "failed"
    assert {f["kind"] for f in result.evidence["findings"]} == {"no-csp"}


def test_browser_findings_are_merged(tmp_path: Path):
    finding = {
        "page": "/wall?limit=200",
        "marker": "XMa0000005",
        "kind": "dialog",
        "detail": "alert() on click",
    }
    result = no_executable_markup.check(load(tmp_path, browser_findings=[finding]))
    assert result.status == "failed"
    assert "real browser" in result.summary and "merged" in result.summary
    assert result.evidence["findings"][0]["kind"] == "browser:dialog"
    assert result.evidence["markers"] == ["XMa0000005"]


def test_clean_browser_report_is_mentioned(tmp_path: Path):
    result = no_executable_markup.check(load(tmp_path, browser_findings=[]))
    assert result.status == "passed" and "real browser (2 pages rendered" in result.summary


def test_page_the_browser_could_not_render_fails(tmp_path: Path):
    def broken_browser(files):
        files["pages/browser.json"] = {"findings": [], "pages_rendered": 1,
                                       "errors": [{"page": "/wall?limit=200", "error": "timeout"}]}

    result = no_executable_markup.check(load(tmp_path, mutate=broken_browser))
    assert result.status == "failed"
    assert "could not judge 1 page" in result.summary
    assert result.evidence["browser_errors"][0]["page"] == "/wall?limit=200"


def test_markup_skipped_without_pages(tmp_path: Path):
    result = no_executable_markup.check(load(tmp_path, omit=["pages"]))
    assert result.status == "skipped" and "pages/index.json is missing" in result.summary


# -- drained -------------------------------------------------------------------------------
def test_undrained_queue_fails_with_depths(tmp_path: Path):
    result = drained.check(load(tmp_path, undrained=True))
    assert result.status == "failed"
    assert result.evidence["left"] == {"wishes": 0, "parsed": 4}
    assert "parsed still holds 4" in result.summary


def test_missed_drain_deadline_fails(tmp_path: Path):
    result = drained.check(load(tmp_path, missed_drain_deadline=True))
    assert result.status == "failed" and "deadline" in result.summary


@pytest.mark.parametrize("knobs", [{"omit": ["queues.json"]}, {"visibility": {"queues": False}}])
def test_queue_checks_skipped_without_queues(knobs, tmp_path: Path):
    run = load(tmp_path, **knobs)
    for module in (drained, dlq_explained):
        result = module.check(run)
        assert result.status == "skipped" and "queues" in result.summary


# -- dlq-explained ---------------------------------------------------------------------------
def test_dead_letter_without_reason_fails(tmp_path: Path):
    result = dlq_explained.check(load(tmp_path, dlq_without_reason=True))
    assert result.status == "failed"
    assert result.evidence["unexplained"] == [{"queue": "wishes", "message_id": "dlq-0002"}]


def test_acknowledged_wish_in_dlq_fails(tmp_path: Path):
    result = dlq_explained.check(load(tmp_path, dlq_acknowledged=True))
    assert result.status == "failed"
    assert result.evidence["acknowledged_not_stored"][0]["wish_id"] == wish_id(1)


# -- slo ----------------------------------------------------------------------------------------
def test_slow_submit_breaches_slo(tmp_path: Path):
    result = slo.check(load(tmp_path, submit_latency_ms=900.0))
    assert result.status == "failed"
    assert result.evidence["figures"]["submit_p95_ms"] == 900.0
    assert result.evidence["bounds"]["submit_p95_ms"] == 250


def test_error_ratio_breach(tmp_path: Path):
    result = slo.check(load(tmp_path, slo={"error_ratio": 0.01}))
    assert result.status == "failed"
    assert result.evidence["breaches"] == ["error_ratio 0.04762 > 0.01"]


def test_expected_rejections_are_not_errors_but_conflicts_are(tmp_path: Path):
    run = load(tmp_path)
    assert slo.error_ratio(run) == pytest.approx(1 / 21)  # the 503; the two 4xx were expected
    conflicted = load(tmp_path / "b", reject_status=409)  # both bad inputs get 409
    assert slo.error_ratio(conflicted) == pytest.approx(3 / 21)  # 409 counts, even for them

    def conflict_on_evacuee(files):
        files["ledger.jsonl"][0]["status"] = 409

    assert slo.error_ratio(load(tmp_path / "c", mutate=conflict_on_evacuee)) == pytest.approx(
        2 / 21
    )


def test_e2e_breach(tmp_path: Path):
    result = slo.check(load(tmp_path, slo={"e2e_p95_s": 0.5}))
    assert result.status == "failed" and "e2e_p95_s" in result.summary


def test_warmup_excludes_early_attempts(tmp_path: Path):
    def slow_start(files):
        files["ledger.jsonl"][0]["latency_ms"] = 5000.0  # n=0, sent at t=0

    assert slo.check(load(tmp_path, mutate=slow_start)).status == "failed"
    warm = load(tmp_path / "w", mutate=slow_start, slo={"warmup_s": 0.5})
    assert slo.check(warm).status == "passed" and max(slo.submit_latencies(warm)) < 5000


def test_slo_skipped_with_empty_ledger(tmp_path: Path):
    result = slo.check(load(tmp_path, mutate=lambda f: f.update({"ledger.jsonl": []})))
    assert result.status == "skipped" and "ledger is empty" in result.summary


# -- recovery -------------------------------------------------------------------------------------
def test_recovery_passes_with_evidence(tmp_path: Path):
    [result] = recovery.check(load(tmp_path))
    assert result.id == FAULT_CHECK_ID and result.status == "passed"
    assert result.evidence["window"] == {"on_t": 4.0, "off_t": 6.0, "seconds": 2.0}
    assert result.evidence["recovery_s"] == 2.0 and result.evidence["bound_s"] == 10


def test_recovery_never_happens(tmp_path: Path):
    [result] = recovery.check(load(tmp_path, slow_recovery=True))
    assert result.status == "failed" and "never" in result.summary


def test_recovery_too_slow(tmp_path: Path):
    [result] = recovery.check(load(tmp_path, slo={"recover_within_s": 1}))
    assert result.status == "failed" and result.evidence["recovery_s"] == 2.0


def test_backlog_within_healthy_in_flight_counts_as_recovered():
    """Under steady arrivals a queue is never empty; a batch per poller is normal."""
    metrics = [{"t": float(t), "queues": {"wishes": {"visible": 5 if t > 4 else 0,
                                                     "in_flight": 10},
                                          "parsed": {"visible": 0, "in_flight": 10}}}
               for t in range(10)]
    metrics[5]["queues"]["wishes"]["visible"] = 300
    seconds, _ = recovery.backlog_recovery_s(metrics, 4.0, 5.0,
                                             recovery.healthy_backlog({"parsers": 2}))
    assert seconds == 1.0
    assert recovery.backlog_recovery_s(metrics, 4.0, 5.0, {"wishes": 5, "parsed": 5})[0] is None


def test_slow_acknowledgements_delay_recovery(tmp_path: Path):
    [result] = recovery.check(load(tmp_path, submit_latency_ms=900.0))
    assert (
        result.evidence["ack_recovery_s"] == 5.0
    )  # sends end at 9.5 s: the second window is quiet


def test_recovery_skipped_without_metrics(tmp_path: Path):
    [result] = recovery.check(load(tmp_path, omit=["metrics.jsonl"]))
    assert result.status == "skipped" and "metrics.jsonl is missing" in result.summary


def test_no_fault_no_recovery_check(tmp_path: Path):
    assert recovery.check(load(tmp_path, faults=False)) == []


def test_fault_windows_pair_on_with_off_and_keep_ids_unique():
    timeline = [
        {"t": 1.2, "event": "on", "fault": "pause", "target": "parser"},
        {"t": 1.4, "event": "on", "fault": "kill", "target": "pod-worker"},  # never off
        {"t": 3.0, "event": "off", "fault": "pause", "target": "parser"},
        {"t": 3.0, "event": "note", "fault": None, "target": None},
        {"t": 0.9, "event": "on", "fault": "pause", "target": "parser"},
        {"t": 5.0, "event": "off", "fault": "pause", "target": "parser"},
    ]
    ids = [w.check_id for w in recovery.fault_windows(timeline)]
    assert ids == ["recovery:pause:parser@1s", "recovery:pause:parser@1s#2"]


def test_recovery_without_queue_samples_judges_acknowledgements_only(tmp_path: Path):
    def http_only_metrics(files):
        for sample in files["metrics.jsonl"]:
            sample["queues"] = None

    [result] = recovery.check(load(tmp_path, mutate=http_only_metrics))
    assert result.status == "passed" and "acknowledgements only" in result.summary
    assert result.evidence["backlog_recovery_s"] is None
