"""The real-browser oracle against ground truth, in Debian's Chromium.

Ground truth comes from the browser itself, without the oracle's CSP trick: each family's
payload alone on a page with no CSP at all, counted as running when it calls a dialog or
loads a URL carrying its marker (on load or after the interaction pass). The oracle then
judges every payload together on one raw wall served with a strict *enforcing* CSP (its route
must swap it for report-only) and must flag at least 95% of those markers, and nothing at all
on the same wall escaped with ``html.escape``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exodus2045.locustfiles.payloads import FAMILIES, render_payload
from exodus2045.reports.browser_launch import open_browser
from exodus2045.reports.oracle_browser import KINDS, BrowserReport, judge_pages
from tests.browser_fixtures import (
    browser_ready,  # noqa: F401 - the skip-or-fail fixture
    ground_truth,
    marker_for,
    payload_site,
)

# Session-scoped, so it runs (and skips or fails) before the module fixtures below.
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("browser_ready")]

REQUIRED_RATE = 0.95
MARKERS = {marker_for(f): f for f in FAMILIES}
#: An unclosed ``<template>`` turns everything after it into inert template content: on one
#: shared page those payloads cannot run at all (no oracle should flag them), while alone on
#: a page they do. So the wall lists the swallowers last, where they hide nothing.
SWALLOWERS = ("template-mxss",)
WALL_ORDER = [f for f in FAMILIES if f not in SWALLOWERS] + [f for f in SWALLOWERS if f in FAMILIES]


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """One browser for the module's oracle runs (each page still gets a fresh context)."""
    with open_browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def wall_site() -> Iterator[str]:
    with payload_site({f: render_payload(f, marker_for(f)) for f in WALL_ORDER}) as base:
        yield base


@pytest.fixture(scope="module")
def truth(wall_site: str) -> dict[str, set[str]]:
    return ground_truth(wall_site, list(FAMILIES))


@pytest.fixture(scope="module")
def walls(wall_site: str, chromium: object) -> BrowserReport:
    return judge_pages(wall_site, ["/raw", "/escaped"], markers_hint=set(MARKERS),
                       browser=chromium)


def _on(report: BrowserReport, page: str) -> dict[str | None, str]:
    return {f.marker: f.kind for f in report.findings if f.page == page}


def test_oracle_flags_at_least_95_percent_of_payloads_that_really_run(
    truth: dict[str, set[str]], walls: BrowserReport
) -> None:
    assert len(FAMILIES) >= 40
    running = {marker_for(f) for f, seen in truth.items() if marker_for(f) in seen}
    # The browser must really run most families raw, or the ground truth is broken.
    assert len(running) >= 30, f"only {len(running)} families ran: {sorted(truth)}"
    flagged = set(_on(walls, "/raw")) & running
    rate = len(flagged) / len(running)
    missed = sorted(MARKERS[m] for m in running - flagged)
    print(f"browser oracle: {len(flagged)}/{len(running)} running payloads flagged "
          f"({rate:.1%}); missed {missed}")
    assert rate >= REQUIRED_RATE, f"flagged {rate:.1%}, missed {missed}"
    assert walls.pages_rendered == 2 and not walls.errors


def test_nothing_is_reported_as_run_that_did_not_run(
    truth: dict[str, set[str]], walls: BrowserReport
) -> None:
    """Kinds that claim execution are backed by the ground truth; the rest (dormant URLs,
    a tap on a ``vbscript:`` link, a ``<base>`` beacon) say only that the page is unsafe."""
    ran = {marker_for(f) for f, seen in truth.items() if marker_for(f) in seen}
    claims = {"inline-script", "script-load", "javascript-url", "eval", "dialog"}
    wrong = [(MARKERS.get(f.marker or ""), f.kind) for f in walls.findings
             if f.kind in claims and f.marker not in ran]
    assert wrong == []


def test_escaped_wall_yields_no_finding(walls: BrowserReport) -> None:
    assert [f for f in walls.findings if f.page == "/escaped"] == []
    assert walls.pages_rendered == 2


def test_findings_say_how_the_payload_ran(walls: BrowserReport) -> None:
    raw = _on(walls, "/raw")
    kind = {MARKERS[m]: k for m, k in raw.items() if m in MARKERS}
    assert kind["script-tag"] == "inline-script"
    assert kind["img-onerror"] == "inline-handler"
    assert kind["script-src"] == "script-load"
    assert kind["link-stylesheet"] == "beacon"
    # Interaction-only payloads: a hover, a tap on a link, a form button, an SVG link.
    assert kind["div-onmouseover"] == "inline-handler"
    for family in ("a-javascript", "button-formaction", "svg-a-xlink-href", "svg-set-href"):
        assert kind[family] == "javascript-url-on-click", family
    assert kind["iframe-javascript"] == "javascript-url"  # no click needed: it runs on load
    # Chromium refuses these, but they sit one tap (or one browser) away from running.
    assert kind["embed-javascript"] == "dormant-url"
    assert kind["mathml-href"] == "dormant-url"
    assert set(raw) <= set(MARKERS), "a finding named a marker nobody sent"
    assert {f.kind for f in walls.findings} <= set(KINDS)


def test_enforcing_csp_is_swapped_so_payloads_really_run(walls: BrowserReport) -> None:
    """The wall is served with a CSP that forbids all script; violations alone would be
    reported even under it, so proof of the swap is the dialog the payload then called."""
    script_tag = next(f for f in walls.findings if f.marker == marker_for("script-tag"))
    assert "dialog" in script_tag.detail


def test_unmarked_payload_still_counts_with_null_marker(chromium: object) -> None:
    with payload_site({"plain": "<img src=x onerror=alert(1)>"}) as base:
        report = judge_pages(base, ["/raw", "/escaped"], browser=chromium)
    raw = [f for f in report.findings if f.page == "/raw"]
    assert raw and all(f.marker is None for f in raw)
    assert {f.kind for f in raw} & {"inline-handler", "dialog"}
    assert [f for f in report.findings if f.page == "/escaped"] == []


def test_inert_template_content_is_not_a_finding(chromium: object) -> None:
    inert = "<template><img src=x onerror=alert('XM7e3a1a7e')><script>alert('XM7e3a1a7f')</script></template>"
    with payload_site({"inert": inert, "live": "<b onclick=\"alert('XM7e3a1a80')\">tap</b>"}) as base:
        report = judge_pages(base, ["/raw"], browser=chromium)
    assert [(f.marker, f.kind) for f in report.findings] == [("XM7e3a1a80", "inline-handler")]


def test_marker_cut_off_by_the_csp_sample_is_resolved_from_the_hint(chromium: object) -> None:
    marker = "XM0123abcd"
    pad = "x" * (34 - len("var pad = '', m = '"))  # the marker starts at character 34 of 40
    code = f"var pad = '{pad}', m = '{marker}';"
    assert marker not in code[:40] and marker[:4] in code[:40]  # the sample cuts the marker
    with payload_site({"cut": f"<script>{code}</script>"}) as base:
        hinted = judge_pages(base, ["/raw"], markers_hint={marker, "XM99999999"},
                             browser=chromium)
        blind = judge_pages(base, ["/raw"], browser=chromium)
    assert [(f.marker, f.kind) for f in hinted.findings] == [(marker, "inline-script")]
    assert [(f.marker, f.kind) for f in blind.findings] == [(None, "inline-script")]


def test_click_on_a_scripted_url_is_recorded_even_when_it_cannot_run(chromium: object) -> None:
    marker = "XM00c0ffee"
    with payload_site({"vb": f"<a href=\"vbscript:msgbox('{marker}')\">tap</a>"}) as base:
        report = judge_pages(base, ["/raw"], browser=chromium)
    assert [(f.marker, f.kind) for f in report.findings] == [(marker, "javascript-url-on-click")]


def test_a_javascript_url_returning_markup_does_not_hide_later_payloads(chromium: object) -> None:
    """Run, that link would replace the whole document; the oracle records it and stays."""
    payloads = {
        "replace": "<a href=\"javascript:'<b>gone XM5eed0001</b>'\">tap</a>",
        "later": "<div onmouseover=\"alert('XM5eed0002')\">x</div>",
    }
    with payload_site(payloads) as base:
        report = judge_pages(base, ["/raw"], browser=chromium)
    found = {f.marker: f for f in report.findings}
    assert found["XM5eed0001"].kind == "javascript-url-on-click"
    assert "dialog" in found["XM5eed0002"].detail  # the hover still happened, and it ran


def test_a_page_that_cannot_load_is_an_error_not_a_clean_page(chromium: object) -> None:
    with payload_site({"ok": "fine"}) as base:
        pass  # the server is gone: nothing listens on that port any more
    report = judge_pages(base, ["/raw"], timeout_s=10, browser=chromium)
    assert report.pages_rendered == 0
    assert len(report.errors) == 1 and report.errors[0].startswith("/raw: ")
