"""junit.xml parses with xml.etree whatever the run quoted, and counts like the verdict."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from exodus2045.reports.render import render_all
from tests.golden_folder import make_golden_folder, verdict

FORBIDDEN = "nul\x00 bell\x07 esc\x1b surrogate\ud800 nonchar\ufffe\uffff ok\u00e9\U0001f680"


def _render(tmp_path: Path, checks: list[dict]) -> ET.Element:
    run_dir = make_golden_folder(tmp_path, scenario="xss<storm>", checks=checks)
    render_all(run_dir, failure_modes=[])
    return ET.parse(run_dir / "junit.xml").getroot()


def test_counts_and_cases_follow_the_verdict(tmp_path: Path):
    root = _render(tmp_path, [
        {"id": "exactly-once", "status": "failed", "summary": "1 missing",
         "evidence": {"missing": ["w-1"], "missing_total": 1}},
        {"id": "browser-oracle", "status": "skipped", "summary": "no browser", "evidence": {}},
        {"id": "tally", "status": "passed", "summary": "ok", "evidence": {}},
    ])
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "exodus.xss<storm>"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["exactly-once", "browser-oracle", "tally"]
    assert {c.get("classname") for c in cases} == {"exodus.audit"}
    failure = cases[0].find("failure")
    assert failure is not None and failure.get("message") == "1 missing"
    assert failure.text == "missing: w-1; missing_total: 1"
    skipped = cases[1].find("skipped")
    assert skipped is not None and skipped.get("message") == "no browser"
    assert list(cases[2]) == []


def test_characters_xml_forbids_are_stripped(tmp_path: Path):
    root = _render(tmp_path, [
        {"id": f"content{FORBIDDEN}", "status": "failed", "summary": f"a\nb {FORBIDDEN}",
         "evidence": {"quoted": FORBIDDEN + "</failure><x>"}},
        {"id": "bad-input", "status": "skipped", "summary": FORBIDDEN, "evidence": {}},
    ])
    case = root.find("testsuite/testcase")
    assert case is not None
    clean = "nul bell esc surrogate nonchar oké\U0001f680"
    assert case.get("name") == f"content{clean}"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == f"a\nb {clean}"
    assert failure.text == "quoted: " + clean + "</failure><x>"


def _render_verdict(tmp_path: Path, **fields) -> ET.Element:
    checks = [{"id": "tally", "status": "passed", "summary": "ok", "evidence": {}},
              {"id": "content", "status": "skipped", "summary": "no store", "evidence": {}}]
    run_dir = make_golden_folder(tmp_path, verdict_doc=verdict(checks, **fields))
    render_all(run_dir, failure_modes=[])
    return ET.parse(run_dir / "junit.xml").getroot()


@pytest.mark.parametrize(
    ("fields", "element", "counts"),
    [
        ({"outcome": "unproven", "unjudged": ["content"]}, "failure", ("3", "1", "0", "1")),
        ({"outcome": "unproven", "unjudged": ["content"], "allow_partial": True}, "skipped",
         ("3", "0", "0", "2")),
        ({"outcome": "interrupted", "complete": False}, "error", ("3", "0", "1", "1")),
        ({"outcome": "error", "error": "no ledger"}, "error", ("3", "0", "1", "1")),
    ],
)
def test_an_outcome_the_checks_do_not_show_gets_its_own_case(
    tmp_path: Path, fields: dict, element: str, counts: tuple[str, ...]
):
    """A CI reads a suite with no failure as green: UNPROVEN must not look like a pass."""
    suite = _render_verdict(tmp_path, **fields).find("testsuite")
    assert suite is not None
    assert tuple(suite.get(k) for k in ("tests", "failures", "errors", "skipped")) == counts
    case = suite.findall("testcase")[-1]
    assert (case.get("classname"), case.get("name")) == ("exodus.verdict", "outcome")
    [child] = list(case)
    assert child.tag == element
    headline = {"skipped": "PARTIAL"}.get(element, fields["outcome"].upper())
    assert child.get("message", "").startswith(f"{headline}: ")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (props["outcome"], props["headline"], props["sound"]) == (
        fields["outcome"], headline, "false")


def test_a_sound_verdict_needs_no_outcome_case(tmp_path: Path):
    checks = [{"id": "tally", "status": "passed", "summary": "ok", "evidence": {}}]
    run_dir = make_golden_folder(tmp_path, checks=checks)
    render_all(run_dir, failure_modes=[])
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None and [c.get("name") for c in suite.findall("testcase")] == ["tally"]
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (props["outcome"], props["headline"], props["sound"]) == ("sound", "SOUND", "true")


def test_cases_carry_the_judging_time_and_the_suite_the_figures(tmp_path: Path):
    import json

    from exodus2045.reports.audit import audit_run

    run_dir = make_golden_folder(tmp_path)
    timings: dict[str, float] = {}
    audit_run(run_dir, timings)
    assert timings and all(v >= 0 for v in timings.values())
    (run_dir / "check-times.json").write_text(json.dumps({**timings, "exactly-once": 1.25}))
    render_all(run_dir)
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    case = suite.find("testcase[@name='exactly-once']")
    assert case.get("time") == "1.250"
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert props["figures.counts.acknowledged"] == "36" and "figures.service_ms.p95" in props
