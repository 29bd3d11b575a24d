"""Events and log lines around each fault: placed by time, escaped, linked from the check."""

from __future__ import annotations

from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from exodus2045.reports.around import around_faults, describe, read_logs
from exodus2045.reports.formats import Window
from exodus2045.reports.render import build_context, render_all
from tests.golden_folder import GOLDEN_FAILURE_MODES, STARTED_AT, make_golden_folder


def test_events_and_lines_within_three_seconds_of_either_edge(tmp_path: Path) -> None:
    run_dir = make_golden_folder(tmp_path)
    logs = read_logs(run_dir, STARTED_AT)
    assert [line.t for line in logs["parser-0"]] == [1.0, 7.5, 12.3, 12.4, 12.4]  # traceback
    events = [{"t": STARTED_AT + t, "component": "parser:0", "event": e}
              for t, e in ((4.9, "too early"), (5.1, "exited"), (11.0, "resumed"),
                           (15.1, "too late"))]
    [near] = around_faults([Window(8.0, 12.0, "kill parser")], events, logs, STARTED_AT)
    assert [e["event"] for e in near.events] == ["exited", "resumed"]
    assert [line.t for line in near.lines["parser-0"]] == [7.5, 12.3, 12.4, 12.4]
    assert describe({"event": "exited", "signal": "SIGKILL"}) == "exited (SIGKILL)"
    assert describe({"event": "stopped", "code": 0}) == "stopped (code 0)"


def test_the_report_shows_them_escaped_and_links_a_failed_recovery_check(tmp_path: Path) -> None:
    checks = [{"id": "recovery:kill:parser@8s", "status": "failed", "summary": "slow",
               "evidence": {"recovered_s": None}}]
    run_dir = make_golden_folder(tmp_path, checks=checks)
    ctx = build_context(run_dir, failure_modes=GOLDEN_FAILURE_MODES)
    assert [n.label for n in ctx.around] == ["kill parser", "kill pod-worker:0"]
    render_all(run_dir, failure_modes=GOLDEN_FAILURE_MODES)
    page = LexborHTMLParser((run_dir / "report.html").read_text(encoding="utf-8"))
    assert not page.css("script")  # the hostile log line stays text
    assert any("<script>" in pre.text() for pre in page.css("pre"))
    links = [a.attributes.get("href") for a in page.css("a")]
    assert "#fault-1" in links and page.css_first("#fault-1") is not None
    assert "exited (SIGKILL)" in page.css_first("#fault-1").next.text()


def test_each_faults_fmea_row_links_to_its_panel(tmp_path: Path) -> None:
    run_dir = make_golden_folder(tmp_path)
    fault_row = {"mode": "fault: kill parser for 4 s", "check": "recovery:kill:parser@8s",
                 "severity": 4, "occurrence": 2, "detection": 3, "rpn": 24,
                 "evidence_count": 0, "cause": "3 error answers of 40 attempts"}
    render_all(run_dir, failure_modes=[*GOLDEN_FAILURE_MODES, fault_row])
    page = LexborHTMLParser((run_dir / "report.html").read_text(encoding="utf-8"))
    fmea = next(t for t in page.css("table") if "rpn" in t.css_first("tr").text())
    linked = {row.css("td")[1].text().split(" events")[0]: [a.attributes["href"]
                                                           for a in row.css("a")]
              for row in fmea.css("tr")[1:]}
    assert linked["fault: kill parser for 4 s"] == ["#fault-1"]
    assert page.css_first("#fault-1") is not None
    assert linked["acknowledged wish lost"] == []  # a check's row is not tied to one moment


def test_the_headline_says_when_spans_were_head_sampled(tmp_path: Path) -> None:
    import json

    from exodus2045.reports.headline import headline

    run_dir = make_golden_folder(tmp_path)
    run = json.loads((run_dir / "run.json").read_text())
    (run_dir / "run.json").write_text(json.dumps({**run, "tracing": {"spans": 1,
                                                                      "sample": 0.1}}))
    (run_dir / "spans.jsonl").write_text("{}\n")
    where = dict(headline(build_context(run_dir)))["where the time went"]
    assert "spans of 10% of wishes, head-sampled; hop times for every wish" in where
    (run_dir / "spans.jsonl").unlink()
    assert "tracing was off" in dict(headline(build_context(run_dir)))["where the time went"]
