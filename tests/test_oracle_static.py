"""The static XSS oracle: what a browser would run is found, what it would not is not."""

from __future__ import annotations

import html
import time

import pytest

from exodus2045.locustfiles import payloads
from exodus2045.reports.oracle_static import (
    csp_findings,
    scan_html,
    scan_page,
    srcset_urls,
    url_scheme,
)
from exodus2045.reports.runfolder import Page

M = "XMdeadbeef"

EXECUTES = [
    (f"<img src=x onerror=alert('{M}')>", "event-handler"),
    (f"<a href=\"JaVa&#x09;script:alert('{M}')\">go</a>", "dangerous-url"),
    (f"<a href=' vbscript:msgbox(1)'>{M}</a>", "dangerous-url"),
    (f"<a href='data:text/html,<script>alert(1)</script>'>{M}</a>", "dangerous-url"),
    (
        f"<iframe src='data:text/html,<script>alert(1)</script>' title={M}></iframe>",
        "dangerous-url",
    ),
    (f"<p><script src='data:,alert(1)'></script><b>{M}</b></p>", "dangerous-url"),
    (f"<svg><a xlink:href='javascript:alert(1)'><text>{M}</text></a></svg>", "dangerous-url"),
    (f"<svg><set attributeName=href to='javascript:alert(1)'/>{M}</svg>", "dangerous-url"),
    (f"<form><button formaction=javascript:alert(1)>{M}</button></form>", "dangerous-url"),
    (f"<img srcset='data:image/png;base64,AA, javascript:alert(1) 2x' alt={M}>", "dangerous-url"),
    (f"<a ping='/ok javascript:alert(1)'>{M}</a>", "dangerous-url"),
    (f"<iframe srcdoc='&lt;script&gt;alert(1)&lt;/script&gt;' title={M}></iframe>", "srcdoc"),
    (f"<iframe src=//evil.example title={M}></iframe>", "embedding-element"),
    (f"<object data=x.swf title={M}></object>", "embedding-element"),
    (f"<embed src=x.swf title={M}>", "embedding-element"),
    (f"<base href=//evil.example/ title={M}>", "embedding-element"),
    (f"<script>alert('{M}')</script>", "script"),
    (f"<svg><script>alert('{M}')</script></svg>", "script"),
    (f"<meta http-equiv=refresh content='0;url=javascript:alert(1)' title={M}>", "meta-refresh"),
    (f"<link rel=import href=/x.html title={M}>", "link-import"),
    # parser differentials a regex misses: the browser (scripting on) runs these
    (
        f"<noscript><p title=\"</noscript><img src=x onerror=alert('{M}')>\"></noscript>",
        "event-handler",
    ),
    (f"<!--><img src=x onerror=alert('{M}')>-->", "event-handler"),
    (f"<div><div><span><b onmouseover=alert(1)>x</b></span>{M}</div></div>", "event-handler"),
]

HARMLESS = [f"<p>{html.escape(payload)}</p>" for payload, _ in EXECUTES] + [
    f"<img src='data:image/png;base64,iVBORw0KGgo=' alt='{M}'>",
    f"<link rel=icon href='data:,'><video poster='data:image/gif,' title={M}></video>",
    f"<a href='https://example.org/?q={M}'>link</a>",
    f"<a href='/relative/javascript:alert(1)'>{M}</a>",
    f"<template><img src=x onerror=alert('{M}')></template>",
    "<meta http-equiv=refresh content=30>",
    f"<p title=\"&quot;&gt;&lt;svg onload=alert('{M}')&gt;\">quoted</p>",
]


@pytest.mark.parametrize(("fragment", "kind"), EXECUTES)
def test_finds_what_executes_and_names_the_marker(fragment: str, kind: str):
    findings = scan_html(f"<!doctype html><html><body>{fragment}</body></html>", "/wall")
    assert kind in {f.kind for f in findings}
    assert all(f.page == "/wall" for f in findings)
    assert M in next(f for f in findings if f.kind == kind).markers


@pytest.mark.parametrize("fragment", HARMLESS)
def test_escaped_or_inert_markup_is_not_a_finding(fragment: str):
    assert scan_html(f"<!doctype html><body><ul><li>{fragment}</li></ul></body>", "/wall") == []


def test_url_scheme_as_a_browser_sees_it():
    assert url_scheme("  JaVa\tSc\nript:alert(1)") == "javascript"
    assert url_scheme("\x01javascript:x") == "javascript"
    assert url_scheme("/javascript:x") is None
    assert url_scheme("https://x") == "https"


def test_srcset_keeps_commas_inside_data_urls():
    assert srcset_urls("data:image/png;base64,AA 1x, /b.png 2x,/c.png") == [
        "data:image/png;base64,AA",
        "/b.png",
        "/c.png",
    ]


@pytest.mark.parametrize(
    ("csp", "kinds"),
    [
        (None, ["no-csp"]),
        ("default-src 'self'; frame-ancestors 'none'", []),
        ("script-src 'self' 'unsafe-inline'", ["csp-unsafe-inline", "csp-unsafe-inline"]),
        ("script-src 'nonce-r4nd0m' 'unsafe-inline'", []),  # a nonce disables unsafe-inline
        ("img-src *", ["csp-unsafe-inline", "csp-unsafe-inline"]),  # script not restricted
        ("script-src 'self'; script-src-attr 'unsafe-inline'", ["csp-unsafe-inline"]),
        ("script-src 'unsafe-inline', script-src 'self'", []),  # every policy is enforced
    ],
)
def test_csp_must_forbid_inline_script(csp: str | None, kinds: list[str]):
    assert [f.kind for f in csp_findings(csp, "/wall")] == kinds


def _page(url: str, content_type: str, body: str) -> Page:
    return Page(
        url, "p", 200, content_type, {"Content-Security-Policy": "default-src 'self'"}, body
    )


def test_json_endpoint_with_marker_must_be_json():
    body = f'{{"message": "<img src=x onerror=alert(\'{M}\')>"}}'
    kinds = {f.kind for f in scan_page(_page("/message", "text/html", body))}
    assert kinds == {"json-content-type", "event-handler"}
    assert scan_page(_page("/message", "application/json", body)) == []
    assert scan_page(_page("/api/tally", "text/plain", '{"mars": 1}')) == []  # no payload in it


def test_fast_enough_for_a_full_wall():
    wall = "".join(f"<li>{html.escape(p)}</li>" for p, _ in EXECUTES * 50)
    start = time.perf_counter()
    for _ in range(5):
        assert scan_html(f"<ul>{wall}</ul>", "/wall") == []
    assert (time.perf_counter() - start) / 5 < 0.5


@pytest.mark.parametrize(
    "fragment",
    [
        f"<style>@import '/__beacon/{M}.css';</style>",
        f"<div style=\"background:url('/{M}.png')\">x</div>",
        f'<link rel=stylesheet href="/__beacon/{M}.css">',
    ],
)
def test_styles_built_from_a_payload_are_findings(fragment: str):
    assert [f.kind for f in scan_html(f"<p>{fragment}</p>", "/wall")] == ["injected-style"]


def test_a_template_element_is_not_blamed_on_every_payload_of_the_page():
    page = f"<html><head><script src=/app.js></script></head><body><p>{M}</p></body></html>"
    [finding] = scan_html(page, "/wall")
    assert finding.kind == "script" and finding.markers == ()


def test_template_stylesheet_is_not_a_finding():
    assert (
        scan_html("<head><link rel=stylesheet href=/static/wall.css><style>p{}</style></head>", "/")
        == []
    )


# Families the swarm sends that need an attribute or script context, or are inert text, so a
# raw body rendering cannot run them (checked against Chromium for the mglyph mXSS).
TEXT_CONTEXT_INERT = {
    "js-string-breakout",
    "attr-breakout-handler",
    "attr-breakout-unquoted",
    "template-mxss",
    "mathml-mglyph-style",
    "double-encoded",
    "markdown-link",
    "markdown-image",
}


def test_every_swarm_payload_family_escaped_is_clean_and_raw_is_caught():
    missed = []
    for i, family in enumerate(payloads.FAMILIES):
        mark = f"XM{i:08x}"
        text = payloads.render_payload(family, mark)
        escaped = f'<li title="{html.escape(text)}"><p>{html.escape(text)}</p></li>'
        assert scan_html(f"<ul>{escaped}</ul>", "/wall") == [], family
        raw = scan_html(f"<ul><li><p>{text}</p></li></ul>", "/wall")
        if family not in TEXT_CONTEXT_INERT and not any(mark in f.markers for f in raw):
            missed.append(family)
    assert missed == []


def test_marker_is_exactly_eight_hex_digits():
    from exodus2045.reports.checks._markers import markers_in

    assert markers_in("XMdeadbeef XMdeadbeef0 xXM0123abcd! XMDEADBEEF") == {
        "XMdeadbeef",
        "XM0123abcd",
    }
