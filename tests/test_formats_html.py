"""report.html is self-contained and never carries a payload that runs.

The folder is hostile on purpose: the scenario name and description, check evidence, a
timeline target, a queue name in metrics.jsonl and a page file name all hold the payloads
infiltrators send. The page is parsed with selectolax (a real HTML5 parser, so what it
sees is what a browser builds) and searched for anything executable or remote.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser

from exodus2045.reports.formats.html import CSP, href
from exodus2045.reports.render import render_all
from tests.golden_folder import GOLDEN_FAILURE_MODES, make_golden_folder

XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)")
PAYLOAD = " ".join(XSS)
URL_ATTRS = {"href", "src", "xlink:href", "action", "formaction", "poster", "data", "srcset"}
FORBIDDEN_TAGS = {"script", "img", "iframe", "object", "embed", "base", "form", "link",
                  "audio", "video", "source", "frame", "frameset", "portal", "math"}


def _hostile_folder(tmp_path: Path) -> Path:
    checks = [
        {"id": f"content{XSS[1]}", "status": "failed", "summary": PAYLOAD,
         "evidence": {"sent": [PAYLOAD], "page": XSS[2], "nested": {"html": XSS[0]}}},
        {"id": "bad-input", "status": "skipped", "summary": XSS[1],
         "evidence": {"quoted": XSS[0] * 80}},
    ]
    run_dir = make_golden_folder(
        tmp_path, scenario=f"storm{XSS[1]}", description=PAYLOAD, checks=checks
    )
    with (run_dir / "timeline.jsonl").open("a") as f:
        f.write(json.dumps({"t": 3.0, "event": "on", "fault": XSS[0], "target": XSS[1]}) + "\n")
        f.write(json.dumps({"t": 5.0, "event": "off", "fault": XSS[0], "target": XSS[1]}) + "\n")
    with (run_dir / "metrics.jsonl").open("a") as f:
        queues = {XSS[1]: {"visible": 3, "in_flight": 1, "dlq": 2}}
        f.write(json.dumps({"t": 23.0, "queues": queues}) + "\n")
    (run_dir / "pages" / f"{XSS[1]}.html").write_text(PAYLOAD)
    modes = [dict(GOLDEN_FAILURE_MODES[0], mode=XSS[1], cause=PAYLOAD)]
    render_all(run_dir, failure_modes=modes)
    return run_dir


@pytest.fixture(scope="module")
def hostile_html(tmp_path_factory: pytest.TempPathFactory) -> str:
    run_dir = _hostile_folder(tmp_path_factory.mktemp("hostile"))
    return (run_dir / "report.html").read_text(encoding="utf-8")


def test_no_script_no_handler_no_javascript_url(hostile_html: str):
    tree = LexborHTMLParser(hostile_html)
    nodes = list(tree.root.traverse(include_text=False))
    assert len(nodes) > 100
    for node in nodes:
        assert node.tag not in FORBIDDEN_TAGS, node.html[:200]
        for name, value in node.attributes.items():
            assert not name.lower().startswith("on"), f"{node.tag} has {name}"
            assert not re.match(r"[\s\x00-\x20]*javascript:", value or "", re.I), value
            if name.lower() in URL_ATTRS:
                assert ":" not in (value or ""), f"non-relative URL {value!r}"


def test_payloads_are_shown_as_literal_text(hostile_html: str):
    text = LexborHTMLParser(hostile_html).body.text()
    for payload in XSS:
        assert payload in text
    assert "<script" not in hostile_html.lower()
    assert "<img" not in hostile_html.lower()


def test_self_contained_with_csp(hostile_html: str):
    tree = LexborHTMLParser(hostile_html)
    csp = tree.css_first('meta[http-equiv="Content-Security-Policy"]')
    assert csp is not None and csp.attributes["content"] == CSP
    assert len(tree.css("style")) == 1
    style = tree.css_first("style").text()
    assert "@import" not in style and "url(" not in style and "@font-face" not in style
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", hostile_html, re.I)


def test_fault_windows_shaded_on_every_time_chart(hostile_html: str):
    tree = LexborHTMLParser(hostile_html)
    charts = tree.css("figure.chart")
    assert len(charts) == 8  # six, plus the per-hop stacked chart and waterfall
    time_charts = [c for c in charts if "seconds since run start" in c.text()]
    assert len(time_charts) == 6
    for chart in time_charts:
        assert len(chart.css("rect.fault")) == 2  # parser kill 8-12 s, hostile fault 3-5 s
        assert len(chart.css("line.fault-mark")) == 1  # the one-shot pod-worker:0 kill
    labels = [t.text() for t in time_charts[0].css("text.fault-label")]
    assert any(XSS[0] in label for label in labels)


def test_hostile_queue_name_is_svg_text(hostile_html: str):
    tree = LexborHTMLParser(hostile_html)
    queue_chart = next(c for c in tree.css("figure.chart") if "Queue depths" in c.text())
    assert any(XSS[1][:20] in t.text() for t in queue_chart.css("text.legend"))


def test_failure_modes_ranked_and_absence_said(tmp_path: Path):
    run_dir = make_golden_folder(tmp_path / "a")
    render_all(run_dir, failure_modes=GOLDEN_FAILURE_MODES)
    tree = LexborHTMLParser((run_dir / "report.html").read_text())
    fmea = next(t for t in tree.css("table") if "rpn" in t.css_first("tr").text())
    ranks = [row.css("td")[6].text() for row in fmea.css("tr")[1:]]
    assert ranks == ["60", "36"]
    assert "No failure modes computed" not in tree.body.text()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ledger.jsonl", "ledger.jsonl"),
        ("pages/index.json", "pages/index.json"),
        ('a"b <c>.json', "a%22b%20%3Cc%3E.json"),
        ("javascript:alert(1)", None),
        ("/etc/passwd", None),
        ("../escape.json", None),
        ("pages//x", None),
        ("", None),
    ],
)
def test_href_is_relative_and_encoded(name: str, expected: str | None):
    assert href(name) == expected
