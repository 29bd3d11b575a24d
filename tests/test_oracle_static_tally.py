"""The static oracle on the projector: its own ``/static/tally.js`` passes, nothing else does.

``/tally`` is the one page that runs script, so the audit judges it like every page that
shows wishes (``scenarios/evidence.py`` fetches it). Its template loads exactly one file of
its own; the oracle accepts a ``<script>`` only as that file (empty, same-origin, under
``/static/``, on the allow-list, not beside a payload), so an inline script, another file or
another origin is still a finding, and so is the template's tag when a raw page shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from exodus2045.app_under_test.backends.local import LocalBackend, open_local
from exodus2045.app_under_test.statedir import StateDir
from exodus2045.reports.oracle_static import TEMPLATE_SCRIPTS, scan_html, scan_page
from exodus2045.reports.runfolder import Page
from exodus2045.scenarios.evidence import PAGE_PATHS
from tests.frontend_fixtures import config_for, running_frontend, stored_wish

M = "XM12345678"
XSS = f"<img src=x onerror=alert('{M}')>"
TALLY_HEAD = '<script src="/static/tally.js" defer></script>'


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[LocalBackend]:
    """A second connection to the state dir, standing in for the pod worker."""
    backend = open_local(StateDir(tmp_path / "state"))
    yield backend
    backend.close()


def _page(url: str, body: str, headers: dict[str, str]) -> Page:
    return Page(url=url, file="tally.html", status=200, content_type=headers["content-type"],
                headers={k.lower(): v for k, v in headers.items()}, body=body)


def _doc(head: str = "", body: str = "") -> str:
    return f"<!doctype html><html><head>{head}</head><body>{body}</body></html>"


def test_the_audit_fetches_the_projector() -> None:
    assert "/tally" in PAGE_PATHS
    assert frozenset({"/static/tally.js"}) == TEMPLATE_SCRIPTS
    assert all(path.startswith("/static/") for path in TEMPLATE_SCRIPTS)


def test_the_real_projector_page_with_a_stored_payload_is_clean(
    tmp_path: Path, writer: LocalBackend
) -> None:
    writer.store.put_wishes([stored_wish(1, message=XSS), stored_wish(2, evacuee=XSS)])
    with running_frontend(config_for(tmp_path / "state")) as fe:
        r = fe.client.get("/tally")
    assert r.status_code == 200 and TALLY_HEAD in r.text, "the template loads its own script"
    assert M in r.text and XSS not in r.text, "the payload is on the page, escaped"
    assert scan_page(_page("/tally", r.text, dict(r.headers))) == []


@pytest.mark.parametrize(
    ("head", "body"),
    [
        (f"<script>alert('{M}')</script>", ""),  # inline
        ('<script src="/static/tally.js">alert(1)</script>', ""),  # the file, plus inline
        ('<script src="/static/other.js"></script>', ""),  # ours, but not on the list
        ('<script src="/static/../api/wall"></script>', ""),
        ('<script src="/static/tally.js?x=1"></script>', ""),
        ('<script src=" /static/tally.js"></script>', ""),
        ('<script src="https://evil.example/static/tally.js"></script>', ""),
        ('<script src="//evil.example/static/tally.js"></script>', ""),
        ('<script src="static/tally.js"></script>', ""),
        ("", '<svg><script href="/x.js" src="/static/tally.js"></script></svg>'),
        # the template's own tag, rendered raw inside a wish: a raw page, still a finding
        ("", f'<ol><li><script src="/static/tally.js"></script> {M}</li></ol>'),
    ],
)
def test_any_other_script_is_still_a_finding(head: str, body: str) -> None:
    kinds = [f.kind for f in scan_html(_doc(head, TALLY_HEAD + body), "/tally")]
    assert kinds.count("script") == 1, kinds


def test_the_allowed_file_alone_is_not_a_finding() -> None:
    assert scan_html(_doc(TALLY_HEAD), "/tally") == []
    assert scan_html(_doc('<script defer src="/static/tally.js"></script>'), "/tally") == []
