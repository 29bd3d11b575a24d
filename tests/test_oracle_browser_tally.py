"""The real-browser oracle on the projector: its own script runs quietly, payloads do not.

``/tally`` loads ``/static/tally.js``, which follows ``/api/tally/stream``. The oracle's
report-only policy allows exactly that file (by its full same-origin URL) and its feeds, so
the page judges clean, while an inline script, a handler or any other file still reports;
and the event stream, which never finishes loading, must not hold each page to its timeout.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exodus2045.app_under_test.backends.local import open_local
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.reports.browser_probe import (
    REPORT_ONLY_CSP,
    TEMPLATE_FEEDS,
    report_only_csp,
    swap_csp,
)
from exodus2045.reports.oracle_browser import judge_pages
from tests.browser_fixtures import (
    browser_ready,  # noqa: F401 - the skip-or-fail fixture
    payload_site,
)
from tests.frontend_fixtures import config_for, running_frontend, stored_wish

M = "XM12345678"
XSS = f"<img src=x onerror=alert('{M}')>"
TIMEOUT_S = 30.0


def test_the_policy_allows_the_template_script_by_its_exact_url_and_nothing_more() -> None:
    csp = report_only_csp("http://127.0.0.1:8123/tally?x=1")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["script-src"] == ["'report-sample'", "http://127.0.0.1:8123/static/tally.js"]
    assert directives["connect-src"] == sorted(f"http://127.0.0.1:8123{p}" for p in TEMPLATE_FEEDS)
    assert not any(k in csp for k in ("'self' 'report-sample' http", "'unsafe-", "'strict-dynamic'",
                                      "script-src-elem", "script-src-attr"))
    assert report_only_csp("about:blank") == REPORT_ONLY_CSP
    swapped = swap_csp({"Content-Security-Policy": "default-src 'none'", "X-A": "1"},
                       "http://127.0.0.1:8123/tally")
    assert swapped == {"X-A": "1", "content-security-policy-report-only": csp}


@pytest.mark.browser
@pytest.mark.usefixtures("browser_ready")
def test_projector_judges_clean_and_the_raw_wall_still_fails(tmp_path: Path) -> None:
    writer = open_local(StateDir(tmp_path / "state"))
    try:
        writer.store.put_wishes([stored_wish(1, message=XSS), stored_wish(2, destination="mars")])
    finally:
        writer.close()
    config = config_for(tmp_path / "state", flaws=frozenset({"raw-wall"}))
    with running_frontend(config) as fe:
        assert '<script src="/static/tally.js" defer></script>' in fe.client.get("/tally").text
        started = time.monotonic()
        tally = judge_pages(fe.url, ["/tally"], markers_hint={M}, timeout_s=TIMEOUT_S)
        took = time.monotonic() - started
        both = judge_pages(fe.url, ["/tally", "/wall?limit=200"], markers_hint={M},
                           timeout_s=TIMEOUT_S)
    assert tally.pages_rendered == 1 and not tally.errors
    assert tally.findings == [], [f.to_json() for f in tally.findings]
    assert took < TIMEOUT_S / 2, f"the event stream held the page for {took:.1f} s"
    assert both.pages_rendered == 2 and not both.errors
    assert [f for f in both.findings if f.page == "/tally"] == []
    assert M in {f.marker for f in both.findings if f.page == "/wall?limit=200"}, "raw-wall runs"


@pytest.mark.browser
@pytest.mark.usefixtures("browser_ready")
def test_other_scripts_still_report_under_the_widened_policy() -> None:
    payloads = {
        "inline": "<script>alert('XMaaaaaaa1')</script>",
        "handler": "<img src=x onerror=\"alert('XMaaaaaaa2')\">",
        "other-file": "<script src=\"/static/other.js\"></script>",  # same origin, not listed
        "eval": "<img src=x onerror=\"eval('1+1//XMaaaaaaa4')\">",
    }
    with payload_site(payloads) as base:
        report = judge_pages(base, ["/raw"], timeout_s=TIMEOUT_S)
    assert not report.errors
    assert {"XMaaaaaaa1", "XMaaaaaaa2", "XMaaaaaaa4"} <= report.markers()
    kinds = {f.marker: f.kind for f in report.findings}
    assert kinds["XMaaaaaaa1"] == "inline-script"
    assert any(f.kind == "script-load" and "/static/other.js" in f.detail
               for f in report.findings), [f.to_json() for f in report.findings]
