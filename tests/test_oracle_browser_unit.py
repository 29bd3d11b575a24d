"""The browser oracle's plumbing that needs no browser: the file it writes, and the rule that
decides between skipping and failing when Chromium is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import exodus2045.reports.browser_launch as launch
import tests.browser_fixtures as fixtures
from exodus2045.app_under_test.errors import ExodusError
from exodus2045.reports.oracle_browser import BrowserReport, Finding, write_browser_json


def test_browser_json_has_the_shape_the_audit_merges(tmp_path: Path) -> None:
    report = BrowserReport(
        findings=[
            Finding("/wall", "XM1a2b3c4d", "inline-handler", "script-src-attr on <img>: alert"),
            Finding("/", None, "dormant-url", '<a href="javascript:void 0">'),
        ],
        pages_rendered=2,
        browser="Chromium 156.0.8078.108",
    )
    path = write_browser_json(tmp_path, report)
    assert path == tmp_path / "pages" / "browser.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["pages_rendered"] == 2
    assert data["browser"] == "Chromium 156.0.8078.108"
    assert data["findings"] == [
        {"page": "/wall", "marker": "XM1a2b3c4d", "kind": "inline-handler",
         "detail": "script-src-attr on <img>: alert"},
        {"page": "/", "marker": None, "kind": "dormant-url",
         "detail": '<a href="javascript:void 0">'},
    ]
    assert data["errors"] == []
    assert sorted(p.name for p in path.parent.iterdir()) == ["browser.json"]  # no temp left
    assert report.markers() == {"XM1a2b3c4d"}


def test_missing_chromium_is_a_reason_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launch, "CHROMIUM_PATH", tmp_path / "chromium")
    reason = launch.browser_available()
    assert reason is not None and str(tmp_path / "chromium") in reason
    with pytest.raises(launch.BrowserUnavailable) as caught, launch.open_browser():
        pass
    assert isinstance(caught.value, ExodusError)


def test_missing_browser_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixtures, "browser_available", lambda: "no Chromium here")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no Chromium here"):
        fixtures.require_browser()


def test_missing_browser_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixtures, "browser_available", lambda: "no Chromium here")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true.*no Chromium here"):
        fixtures.require_browser()


def test_present_browser_neither_skips_nor_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fixtures, "browser_available", lambda: None)
    monkeypatch.setenv("CI", "true")
    assert fixtures.require_browser() is None
